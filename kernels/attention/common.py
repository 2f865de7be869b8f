"""What every attention kernel shares: budgets per method, kept-set recorders, ``Prepared``.

``method_budget(instance, method, options)`` turns the instance's keys-per-query budget
into the method's own knob (``Budget``: sinks + window, blocks, pages, k or target count)
and the most keys a row may keep (the cap ``check`` holds the kernel to).
``Recorder(batch, cap)`` holds the arrays a list kernel fills as it selects
(``rec_idx``, ``rec_cnt``, ``row_cnt``) and turns them into a ``RowKept``.
``make_prepared(...)`` attaches FLOPs, bytes, semantics and info in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernels.attention.costs import method_cost
from suite.errors import Unsupported
from suite.workload import Prepared
from suite.workloads.attention_batch import AttentionBatch, RowKept

DEFAULT_SINKS = 4
DEFAULT_PAGE = 16
BLOCK = 64


@dataclass(frozen=True)
class Budget:
    """A method's knob for one instance: ``keys`` (k / target count), ``sinks`` and
    ``window`` (StreamingLLM), ``units`` (blocks or pages kept), ``cap`` (max keys/row)."""

    keys: int
    sinks: int = 0
    window: int = 0
    units: int = 0
    unit_keys: int = 0
    cap: int | None = None


def method_budget(instance, method: str, options: dict) -> Budget:
    k = instance.keys_per_query
    if method == "window":
        sinks = min(int(options.get("sinks", DEFAULT_SINKS)), max(k - 1, 0))
        return Budget(k, sinks=sinks, window=k - sinks, cap=k)
    if method == "block-sparse" and instance.phase == "prefill":
        blocks = max(2, round(k / BLOCK))
        return Budget(k, units=blocks, unit_keys=BLOCK, cap=blocks * BLOCK)
    if method == "block-sparse":
        page = int(options.get("page", DEFAULT_PAGE))
        pages = max(1, -(-k // page))
        return Budget(k, units=pages, unit_keys=page, cap=pages * page)
    if method == "top-theta":
        return Budget(k, cap=None)
    return Budget(k, cap=k)


def check_options(options: dict, allowed: tuple[str, ...]) -> None:
    """Unknown or bad YAML options of a system make its rows skipped, with the reason."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise Unsupported(f"option {unknown[0]!r}; allowed: {', '.join(allowed) or 'none'}")
    for name, value in options.items():
        low = 0 if name == "sinks" else 1
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise Unsupported(f"option {name}={value!r}; allowed: an integer >= {low}")


class Recorder:
    """Kept keys of the sampled rows (``rec_idx``: B x H x S x cap int32, ``rec_cnt``)
    and every row's kept count (``row_cnt``: B x H x Lq), filled inside the kernel."""

    def __init__(self, batch: AttentionBatch, cap: int):
        n_b, n_h, n_q = batch.q.shape[:3]
        self.slot_of = batch.slot_of()
        self.rec_idx = np.empty((n_b, n_h, len(batch.sample), max(cap, 1)), np.int32)
        self.rec_cnt = np.zeros((n_b, n_h, len(batch.sample)), np.int32)
        self.row_cnt = np.zeros((n_b, n_h, n_q), np.int32)

    def kept(self) -> RowKept:
        return RowKept(self.rec_idx, self.rec_cnt, self.row_cnt.sum(axis=2, dtype=np.int64))


def make_prepared(instance, method: str, options: dict, run, budget: Budget | None,
                  put=None, info: dict | None = None, artifact_bytes: int | None = None):
    flops, bytes_min = method_cost(instance, method, options)
    semantics = {"method": method, "phase": instance.phase,
                 "keys_per_query": instance.keys_per_query}
    if budget is not None:
        semantics["max_keys_per_row"] = budget.cap
        semantics.update({n: getattr(budget, n) for n in ("sinks", "window", "units",
                                                          "unit_keys") if getattr(budget, n)})
    extra = {"put": put} if put is not None else {}
    return Prepared(run=run, flops=flops, bytes_min=bytes_min, semantics=semantics,
                    info=dict(info or {}), artifact_bytes=artifact_bytes, **extra)
