"""How each system is measured: ``MeasureSettings`` and what each of its fields allows.

A suite's ``defaults:`` and each workload group's ``measure:`` block are validated against
``RULES`` (``suite.config``) and merged into one ``MeasureSettings`` per group.
"""

from __future__ import annotations

from dataclasses import dataclass

SCENARIOS = ("batch", "per_query")
MODES = ("interleaved", "one-at-a-time")


@dataclass(frozen=True)
class MeasureSettings:
    """How each system is timed (``RULES`` says what each field allows)."""

    warmup: int = 2             # untimed calls after the validating call
    min_repeats: int = 5        # samples per system at least
    max_repeats: int = 50       # samples per system at most
    min_time_s: float = 0.2     # measured time per system at least (unless max_repeats)
    sample_time_s: float = 0.002  # calls are batched until one sample lasts this long
    seed: int = 0               # seeds every instance's inputs
    max_time_s: float = 300.0   # per system: prepare + validation + timing; past it a failed
                                # `timeout` row
    batches: int = 3            # distinct input batches the harness rotates among
    scenario: str = "batch"     # batch: one call computes a batch (throughput); per_query: one
                                # query per call, every latency kept
    queries: int = 32           # per_query: distinct single queries timed
    mode: str = "interleaved"   # interleaved: all systems round-robin; one-at-a-time: prepare,
                                # time beside the baseline, free (systems too big to hold together)


@dataclass(frozen=True)
class Rule:
    """What one ``MeasureSettings`` field allows: a type, a range, or a list of choices."""

    kind: type
    low: int = 0
    above: bool = False         # strictly above ``low``: a time limit of 0 fails everything
    high: int | None = None
    choices: tuple[str, ...] = ()

    def allowed(self) -> str:
        if self.choices:
            return ", ".join(self.choices)
        text = ("an integer" if self.kind is int else "a finite number") \
            + (" > " if self.above else " >= ") + str(self.low)
        return text + (f" and <= {self.high}" if self.high is not None else "")


COUNT = 1_000_000  # more is a typo; that many batches or queries would also exhaust memory
DAY_S = 86_400     # a longer time per system is a typo
RULES = {"warmup": Rule(int, 0, high=COUNT), "min_repeats": Rule(int, 1, high=COUNT),
         "max_repeats": Rule(int, 1, high=COUNT), "min_time_s": Rule(float, 0, high=DAY_S),
         "sample_time_s": Rule(float, 0, high=DAY_S), "seed": Rule(int, 0),
         "max_time_s": Rule(float, 0, above=True, high=DAY_S),
         "batches": Rule(int, 1, high=COUNT), "scenario": Rule(str, choices=SCENARIOS),
         "queries": Rule(int, 1, high=COUNT), "mode": Rule(str, choices=MODES)}
GROUP_KEYS = tuple(k for k in RULES if k != "seed")  # one seed per suite: groups share inputs
