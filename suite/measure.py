"""Timing owned by the harness: validate first, warm up, then interleave every system.

For one build group on one device (``rows``: the instances that share inputs, each with
its systems, the dense baseline once): each system is prepared (untimed; its wall time
recorded), run on every input batch and checked against that batch's reference (a wrong
result fails the row, it is never timed), warmed up, then every surviving system is timed
round-robin, one sample per system per round, until all of them have ``min_repeats``
samples and ``min_time_s`` of measurement (or ``max_repeats`` rounds): a system that is
done stays in the round until all are, so every sample has an interleaved partner. Calls
rotate among the batches; the output of each system's last timed call is checked again,
so a kernel that caches its first answer fails. ``batch`` scenario: fast calls are batched
so a sample lasts about as long as the slowest system's call (within ``sample_time_s`` ..
``min_time_s / min_repeats``); ``per_query``: one query per call, every latency kept, each
query timed ``REPEATS_PER_QUERY`` times at least.
``mode: one-at-a-time`` prepares, times beside the baseline and frees one system at a time.
Main entry: ``GroupMeasurement(rows, shared, cache).run() -> list[Outcome]``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from suite import registry
from suite.build_group import SharedBuild
from suite.context import ArtifactCache, KernelContext
from suite.errors import Unsupported
from suite.outcome import Outcome, Row, callable_with_batch, describe, is_v1
from suite.validate import validate_outputs

__all__ = ["GroupMeasurement", "Outcome", "Row", "describe"]

Clock = Callable[[], float]
REPEATS_PER_QUERY = 4  # per_query: timings of each query, at least (its noise, not its cost)


class GroupMeasurement:
    """Measure the rows of one build group on one device (see the module docstring)."""

    def __init__(self, rows: list[Row], shared: SharedBuild, cache: ArtifactCache | None = None,
                 clock: Clock = time.perf_counter,
                 on_phase: Callable[[int], None] | None = None):
        self.rows, self.shared, self.cache = rows, shared, cache
        self.settings = shared.settings
        self.clock = clock
        self.on_phase = on_phase or (lambda index: None)
        self.outcomes = [Outcome(r, i) for i, r in enumerate(rows)]
        self.family = registry.get_family(rows[0].instance.family)

    def run(self) -> list[Outcome]:
        ordered = sorted(self.outcomes, key=lambda o: not o.system.is_baseline)
        if self.settings.mode == "one-at-a-time":
            self._one_at_a_time(ordered)
        else:
            for outcome in ordered:
                self._ready(outcome)
            self._interleave([o for o in ordered if o.active])
        for outcome in self.outcomes:
            self._recheck(outcome)
        return self.outcomes

    # -- preparing, validating, warming up ------------------------------------------------
    def _ready(self, outcome: Outcome) -> None:
        self.on_phase(outcome.index)
        start = self.clock()
        self._prepare(outcome)
        if outcome.active:
            validate_outputs(outcome, self.shared, self.family, self._baseline_outcome())
        if outcome.active:
            self._warm_up(outcome)
        outcome.spent_s += self.clock() - start
        if outcome.active and outcome.spent_s > self.settings.max_time_s:
            outcome.fail("failed", f"timeout: preparing and validating took "
                                   f"{outcome.spent_s:.3g} s > max_time_s "
                                   f"{self.settings.max_time_s:g}")

    def _baseline_outcome(self) -> Outcome | None:
        return next((o for o in self.outcomes if o.system.is_baseline), None)

    def _prepare(self, outcome: Outcome) -> None:
        system, instance = outcome.system, outcome.instance
        reason = system.device.unavailable_reason() or system.spec.missing_needs()
        if reason:
            outcome.fail("skipped", reason)
            return
        ctx = KernelContext(device=system.device, options=dict(system.entry.options),
                            cache=self.cache, build_key=self.shared.key,
                            reference=self.shared.reference_lookup(instance))
        start = self.clock()
        try:
            prepared = system.spec.prepare(instance, self.shared.inputs, ctx)
        except Unsupported as exc:
            outcome.fail("skipped", str(exc))
            return
        except Exception as exc:  # one failing system never loses the run
            outcome.fail("failed", describe(exc))
            return
        outcome.prepare_s = self.clock() - start
        outcome.uses = list(ctx.uses)
        outcome.prepared = prepared
        outcome.run = callable_with_batch(prepared.run)
        batches = self.shared.batches(instance)
        try:
            outcome.feed = [prepared.put(b) for b in (batches[:1] if is_v1(outcome)
                                                      else batches)]
        except Exception as exc:
            outcome.fail("failed", f"moving the inputs to the device: {describe(exc)}")
            return
        outcome.rotation = len(outcome.feed)
        if outcome.run is not prepared.run:
            outcome.flags.append("v1-kernel: run() takes no batch, so it is fed batch 0 "
                                 "only and output caching cannot be detected")
            if self.shared.scenario == "per_query":
                outcome.fail("skipped", "a v1 kernel (run() without a batch) cannot run "
                                        "per_query; port it to run(batch)")

    def _warm_up(self, outcome: Outcome) -> None:
        if outcome.system.device.deterministic:
            return
        try:
            for _ in range(self.settings.warmup):
                self._time(outcome, 1)
            outcome.one_call_s = max(self._time(outcome, 1), 1e-9)
        except Exception as exc:
            outcome.fail("failed", describe(exc))

    # -- timing ---------------------------------------------------------------------------
    def _interleave(self, outcomes: list[Outcome]) -> None:
        """Round-robin: one sample per system per round, so drift hits all of them alike."""
        self._set_calls_per_sample(outcomes)
        budget_end = self.clock() + self._budget_s(len(outcomes))
        rounds = 0
        while True:
            live = [o for o in outcomes if o.active and not o.stopped]
            if not live or all(self._enough(o) for o in live):
                break
            most = max([self.settings.max_repeats] + [self._per_query_min(o) for o in live])
            if rounds >= most or self.clock() > budget_end:
                break  # a pathological system must not hold the whole run hostage
            for outcome in live:
                self._take_sample(outcome)
            rounds += 1
        for outcome in outcomes:
            self._flag_short(outcome)

    def _set_calls_per_sample(self, outcomes: list[Outcome]) -> None:
        s = self.settings
        if self.shared.scenario == "per_query":
            return  # one query per call: every latency is a sample
        timed = [o.one_call_s for o in outcomes if not o.system.device.deterministic]
        slowest = max(timed, default=0.0)
        ceiling = max(s.sample_time_s, s.min_time_s / max(s.min_repeats, 1))
        target = min(max(slowest, s.sample_time_s), ceiling)
        for o in outcomes:
            if not o.system.device.deterministic:
                o.calls_per_sample = max(1, math.ceil(target / o.one_call_s))

    def _budget_s(self, systems: int) -> float:
        return max(self.settings.min_time_s * 20, 5.0) * max(systems, 1)

    def _take_sample(self, outcome: Outcome) -> None:
        self.on_phase(outcome.index)
        start = self.clock()
        try:
            if outcome.system.device.deterministic:
                outcome.samples_s.append(float(outcome.prepared.simulated_time_s))
                outcome.stopped = True
                return
            total = self._time(outcome, outcome.calls_per_sample)
            outcome.samples_s.append(total / outcome.calls_per_sample)
        except Exception as exc:
            outcome.fail("failed", describe(exc))
            return
        finally:
            outcome.spent_s += self.clock() - start
        if outcome.spent_s > self.settings.max_time_s:
            outcome.stopped = True
            outcome.flags.append(f"stopped at max_time_s {self.settings.max_time_s:g}")

    def _time(self, outcome: Outcome, number: int) -> float:
        feed = self._feed(outcome)
        seconds, last = outcome.system.device.time_calls(outcome.run, feed, outcome.position,
                                                         number)
        outcome.last_index = (outcome.position + number - 1) % len(feed)
        outcome.position = (outcome.position + number) % len(feed)
        outcome.last_output = last
        return seconds

    def _feed(self, outcome: Outcome) -> list[Any]:
        return outcome.feed

    def _enough(self, outcome: Outcome) -> bool:
        n = len(outcome.samples_s)
        if outcome.system.device.deterministic:
            return n >= 1
        measured_s = sum(outcome.samples_s) * outcome.calls_per_sample
        return (n >= max(self.settings.min_repeats, self._per_query_min(outcome))
                and measured_s >= self.settings.min_time_s)

    def _per_query_min(self, outcome: Outcome) -> int:
        """per_query: every query timed REPEATS_PER_QUERY times, so one query's noise can be
        told from the spread between queries (``uncertainty.repeat_spread``); else 0."""
        if self.shared.scenario != "per_query" or outcome.system.device.deterministic:
            return 0
        return REPEATS_PER_QUERY * outcome.rotation

    def _flag_short(self, outcome: Outcome) -> None:
        want = 1 if outcome.system.device.deterministic else self.settings.min_repeats
        if outcome.active and len(outcome.samples_s) < want:
            outcome.flags.append(f"fewer_samples: {len(outcome.samples_s)} of {want} requested")

    def _recheck(self, outcome: Outcome) -> None:
        """The last timed call's output is checked too: a cached answer cannot look fast."""
        if not outcome.active or outcome.last_output is None or outcome.last_index < 0:
            return
        prepared = outcome.prepared
        batch = self.shared.batches(outcome.instance)[outcome.last_index]
        try:
            output = prepared.to_host(outcome.last_output)
            reference = self.shared.reference(outcome.instance, outcome.last_index)
            check = outcome.instance.check(output, reference, self.shared.inputs, prepared,
                                           batch=batch)
        except Exception as exc:
            outcome.fail("failed", f"checking the last timed output: {describe(exc)}")
            return
        outcome.last_output = None
        if not check.valid:
            outcome.fail("failed", f"wrong result in the timed loop (batch "
                                   f"{outcome.last_index}; a cached or stale output?): "
                                   f"{check.reason}")
            outcome.check = check

    # -- one system at a time -------------------------------------------------------------
    def _one_at_a_time(self, ordered: list[Outcome]) -> None:
        baseline = ordered[0] if ordered and ordered[0].system.is_baseline else None
        if baseline is not None:
            self._ready(baseline)
        for outcome in ordered[1 if baseline else 0:]:
            self._ready(outcome)
            if not outcome.active:
                continue
            if baseline is None or not baseline.active:
                self._interleave([outcome])
            else:
                self._pair_with_baseline(baseline, outcome)
            self._recheck(outcome)
            outcome.prepared = outcome.run = outcome.feed = None  # freed before the next one
        if baseline is not None and baseline.active and not baseline.samples_s:
            self._interleave([baseline])

    def _pair_with_baseline(self, baseline: Outcome, outcome: Outcome) -> None:
        shadow = Outcome(baseline.row, baseline.index, prepared=baseline.prepared, run=baseline.run,
                         one_call_s=baseline.one_call_s, position=baseline.position,
                         feed=baseline.feed)
        self._interleave([shadow, outcome])
        outcome.baseline_samples_s = list(shadow.samples_s)
        baseline.position = shadow.position
        if not baseline.samples_s:
            baseline.samples_s = list(shadow.samples_s)
            baseline.calls_per_sample = shadow.calls_per_sample
            baseline.last_output, baseline.last_index = shadow.last_output, shadow.last_index
