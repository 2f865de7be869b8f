"""Attention on the simulated array: QK^T and PV over each method's real kept keys, as GEMMs.

Kernels on ``sim`` for the ``attention`` family (any ``sim:<hw>``; the array runs dense,
since what a method skips is whole key blocks, not zeros inside a weight)::

    systems:
      - {device: "sim:sparse-tc-32x32", kernel: block-sparse, family: attention}
      - {device: "sim:sparse-tc-32x32", kernel: window, family: attention, options: {sinks: 4}}

- ``attention/dense``: every causal key (the speedup baseline);
- ``attention/block-sparse``: the key set the CPU ``block-sparse`` kernel selects, by its
  own code: prefill ``cpu_block_sparse.select_blocks`` (MInference 64-key blocks per head),
  decode ``cpu_block_sparse.decode`` (Quest pages per KV group) with every row recorded;
- ``attention/window``: StreamingLLM sinks + sliding window (``method_budget``'s knobs).

Mapping: a method's kept set becomes tiles, one per (sequence, query block of 64 rows,
head) in prefill and per (sequence, query, KV group) in decode, where the group's G heads
share the selection and are stacked as G rows. A tile of ``m`` query rows over ``n`` keys
is two GEMMs (``simulators.mapping.Gemm``): scores ``m x hd @ hd x n`` and values
``m x n @ n x hd``; ``n`` is the union of its rows' kept keys (a partial diagonal block and
the rows' own window edges are computed and masked, as flash tiles do). Dense uses the
same tiles with every causal key, so a budget that keeps every block costs exactly dense.
Cycles, energy and traffic are sums of ``SystolicArray.simulate_gemm`` per GEMM (identical
shapes simulated once); the time of a call is the mean over the instance's ``layers`` (the
batches rotate among them; each has its own masks). Not modelled: softmax and the
selection's pooling (vector units), fusion (the model's memory system writes the scores
out and reads P back in, for dense and sparse alike).

``run(batch)`` selects with the same code, then computes attention over exactly the kept
keys of each tile (float32 GEMMs), and returns the kept set in the family's own form
(``None``, ``WindowKept``, ``BlockKept``, ``RowKept``), so ``check`` validates it and
computes recall, rel_error and density as for the CPU method.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kernels.attention.common import BLOCK, Budget, check_options, make_prepared, method_budget
from simulators.mapping import Gemm
from suite.errors import Unsupported
from suite.registry import register_kernel
from suite.workload import Prepared
from suite.workloads.attention_batch import (
    AttentionBatch,
    AttentionOutput,
    BlockKept,
    RowKept,
    WindowKept,
)

Rule = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (pos[:, None], keys[None]) -> mask


@dataclass(frozen=True)
class Tile:
    """Query rows ``rows`` (of Lq) of heads ``heads`` of sequence ``b`` over ``keys``."""

    b: int
    heads: tuple[int, int]
    rows: tuple[int, int]
    keys: np.ndarray

    @property
    def m(self) -> int:
        return (self.heads[1] - self.heads[0]) * (self.rows[1] - self.rows[0])


@dataclass(frozen=True)
class Selection:
    """The tiles the array runs, the kept set ``check`` reads, and a per-row rule."""

    tiles: list[Tile]
    kept: object = None
    rule: Rule | None = None


def prefill_tiles(batch: AttentionBatch, keys_of) -> list[Tile]:
    """Per (b, head, 64-row query block a): ``keys_of(b, h, a, lo, hi)`` (rows' positions)."""
    n_b, n_h, n_q = batch.q.shape[:3]
    tiles = []
    for b in range(n_b):
        for h in range(n_h):
            for a in range(-(-n_q // BLOCK)):
                r0, r1 = a * BLOCK, min((a + 1) * BLOCK, n_q)
                lo, hi = int(batch.q_pos[r0]), int(batch.q_pos[r1 - 1])
                tiles.append(Tile(b, (h, h + 1), (r0, r1), keys_of(b, h, a, lo, hi)))
    return tiles


def decode_tiles(batch: AttentionBatch, keys_of) -> list[Tile]:
    """Per (b, KV group g, query i): the group's heads stacked over ``keys_of(b, g, i)``."""
    n_b, _, n_q = batch.q.shape[:3]
    group, n_kv = batch.group, batch.k.shape[1]
    return [Tile(b, (g * group, (g + 1) * group), (i, i + 1), keys_of(b, g, i))
            for b in range(n_b) for g in range(n_kv) for i in range(n_q)]


def dense_selection(batch: AttentionBatch, phase: str, budget: Budget | None = None
                    ) -> Selection:
    if phase == "prefill":  # every causal key of the block's rows
        return Selection(prefill_tiles(batch, lambda b, h, a, lo, hi: np.arange(hi + 1)))
    return Selection(decode_tiles(batch, lambda b, g, i: np.arange(int(batch.q_pos[i]) + 1)))


def window_selection(batch: AttentionBatch, phase: str, budget: Budget) -> Selection:
    sinks, window = budget.sinks, budget.window

    def keys(lo: int, hi: int) -> np.ndarray:
        return np.union1d(np.arange(min(sinks, hi + 1)), np.arange(max(lo - window + 1, 0),
                                                                   hi + 1))

    def rule(pos, k):
        return (k < sinks) | (k > pos - window)

    if phase == "prefill":
        tiles = prefill_tiles(batch, lambda b, h, a, lo, hi: keys(lo, hi))
    else:
        tiles = decode_tiles(batch, lambda b, g, i: keys(int(batch.q_pos[i]),
                                                          int(batch.q_pos[i])))
    return Selection(tiles, WindowKept(sinks, window), rule)


def block_selection(batch: AttentionBatch, phase: str, budget: Budget) -> Selection:
    """MInference blocks (prefill) or Quest pages (decode), chosen by the CPU kernel's code."""
    if phase == "prefill":
        return _blocks(batch, budget)
    return _pages(batch, budget)


def _blocks(batch: AttentionBatch, budget: Budget) -> Selection:
    from kernels.attention import cpu_block_sparse as bs
    from kernels.attention import layout

    n_b, n_h, n_q = batch.q.shape[:3]
    blocks = np.zeros((n_b, n_h, -(-n_q // BLOCK), budget.units), np.int64)
    counts = np.zeros(blocks.shape[:3], np.int64)
    bs.select_blocks(layout.scaled_queries(batch.q), batch.k, batch.q_pos, budget.units,
                     blocks, counts)
    length = batch.k.shape[2]

    def keys(b, h, a, lo, hi):
        kept = [np.arange(c * BLOCK, min((c + 1) * BLOCK, length, hi + 1))
                for c in blocks[b, h, a, :counts[b, h, a]]]
        return np.concatenate(kept)

    return Selection(prefill_tiles(batch, keys), BlockKept(BLOCK, BLOCK, blocks, counts))


def _pages(batch: AttentionBatch, budget: Budget) -> Selection:
    """Quest's kept keys of every query row: the CPU decode kernel, all rows recorded."""
    from kernels.attention import cpu_block_sparse as bs
    from kernels.attention import layout
    from kernels.attention.common import Recorder

    every = dataclasses.replace(batch, sample=np.arange(batch.q.shape[2]))
    rec = Recorder(every, budget.cap)
    page = budget.unit_keys
    bs.decode(layout.scaled_queries(batch.q), layout.keys_transposed(batch.k),
              layout.padded(batch.v), batch.q_pos, *bs.page_bounds(batch.k, page), page,
              budget.units, rec.slot_of, rec.rec_idx, rec.rec_cnt, rec.row_cnt,
              np.empty(batch.q.shape, np.float32))
    group = batch.group
    tiles = decode_tiles(batch, lambda b, g, i: rec.rec_idx[
        b, g * group, i, :rec.rec_cnt[b, g * group, i]].astype(np.int64))
    kept = RowKept(rec.rec_idx[:, :, batch.sample], rec.rec_cnt[:, :, batch.sample],
                   rec.row_cnt.sum(axis=2, dtype=np.int64))
    return Selection(tiles, kept)


def attend(batch: AttentionBatch, selection: Selection) -> np.ndarray:
    """Softmax attention of every tile over its kept keys (causal, and the rule's)."""
    out = np.zeros(batch.q.shape, np.float32)
    scale = np.float32(1.0 / np.sqrt(batch.q.shape[-1]))
    for t in selection.tiles:
        (h0, h1), (r0, r1), kv = t.heads, t.rows, t.heads[0] // batch.group
        q = batch.q[t.b, h0:h1, r0:r1]
        s = (q @ batch.k[t.b, kv, t.keys].T) * scale
        pos = batch.q_pos[r0:r1, None]
        mask = t.keys[None] <= pos
        if selection.rule is not None:
            mask &= selection.rule(pos, t.keys[None])
        s = np.where(mask, s, -np.inf)
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        out[t.b, h0:h1, r0:r1] = (e / e.sum(axis=-1, keepdims=True)) @ batch.v[t.b, kv, t.keys]
    return out


def attention_gemms(tiles: list[Tile], head_dim: int) -> list[tuple[Gemm, int]]:
    """The two GEMMs of each distinct tile shape, with how many tiles have it."""
    shapes = Counter((t.m, int(t.keys.size)) for t in tiles)
    return [(gemm, count) for (m, n), count in sorted(shapes.items())
            for gemm in (Gemm("attn-scores", m=m, n=n, k=head_dim),
                         Gemm("attn-values", m=m, n=head_dim, k=n))]


class Simulated:
    """Sums of ``simulate_gemm`` reports over GEMMs; each distinct shape simulated once."""

    KEYS = ("macs", "total_cycles", "stall_cycles", "dram_bytes")

    def __init__(self, array):
        self.array, self._reports = array, {}

    def totals(self, gemms: list[tuple[Gemm, int]]) -> dict:
        totals = dict.fromkeys(("time_s", "energy_j", *self.KEYS, "gemms"), 0)
        totals["cycles_by_part"] = {"attn-scores": 0, "attn-values": 0}
        for gemm, count in gemms:
            report = self._report(gemm)
            totals["time_s"] += count * report.time_s
            totals["energy_j"] += count * report.energy_j
            for key in self.KEYS:
                totals[key] += count * getattr(report, key)
            totals["gemms"] += count
            totals["cycles_by_part"][gemm.name] += count * report.total_cycles
        return totals

    def _report(self, gemm: Gemm):
        key = (gemm.name, gemm.m, gemm.n, gemm.k)
        if key not in self._reports:
            self._reports[key] = self.array.simulate_gemm(gemm, compare_dense=False)
        return self._reports[key]


METHODS = {"dense": (dense_selection, ()), "window": (window_selection, ("sinks",)),
           "block-sparse": (block_selection, ("page",))}


def _array(ctx):
    array = getattr(ctx.device, "array", None)
    if array is None:
        raise Unsupported(f"needs a sim:<hw> device, got {ctx.device.name}")
    return array.dense  # whole key blocks are skipped; no zeros inside a tile to skip


def _per_layer(instance, inputs, select, budget, sim: Simulated) -> dict[int, dict]:
    """Totals of one call on each layer the batches rotate among (its own masks)."""
    layers, phase = instance.params["layers"], instance.phase
    d = instance.shape.head_dim
    return {layer: sim.totals(attention_gemms(select(batch, phase, budget).tiles, d))
            for layer, batch in zip(layers, instance.batches(inputs, len(layers)),
                                    strict=True)}


def _dense_totals(instance, inputs, sim: Simulated) -> dict:
    """Dense tiles depend on positions only: one batch gives every layer's totals."""
    batch = instance.batches(inputs, 1)[0]
    return sim.totals(attention_gemms(dense_selection(batch, instance.phase).tiles,
                                      instance.shape.head_dim))


def _mean(per_layer: dict[int, dict], key: str) -> float:
    return float(np.mean([t[key] for t in per_layer.values()]))


def _info(per_layer: dict[int, dict], dense: dict, hw: str) -> dict:
    info = {"hw": hw, "total_cycles": round(_mean(per_layer, "total_cycles")),
            "stall_cycles": round(_mean(per_layer, "stall_cycles")),
            "dram_bytes": _mean(per_layer, "dram_bytes"),
            "gemms": round(_mean(per_layer, "gemms")),
            "cycles_by_layer": {str(k): t["total_cycles"] for k, t in per_layer.items()},
            "cycles_by_part": {p: round(np.mean([t["cycles_by_part"][p]
                                                 for t in per_layer.values()]))
                               for p in dense["cycles_by_part"]},
            "macs_fraction_of_dense": _mean(per_layer, "macs") / max(dense["macs"], 1)}
    info["speedup_vs_dense"] = dense["total_cycles"] / max(info["total_cycles"], 1)
    return info


def prepare(instance, inputs, ctx, method: str) -> Prepared:
    select, allowed = METHODS[method]
    check_options(ctx.options, allowed)
    if method == "block-sparse" and 64 % int(ctx.options.get("page", 16)):
        raise Unsupported(f"page={ctx.options['page']}; allowed: a divisor of 64")
    sim = Simulated(_array(ctx))
    budget = method_budget(instance, method, ctx.options) if method != "dense" else None
    per_layer = _per_layer(instance, inputs, select, budget, sim)
    dense = next(iter(per_layer.values())) if method == "dense" else _dense_totals(
        instance, inputs, sim)

    def run(batch: AttentionBatch) -> AttentionOutput:
        selection = select(batch, instance.phase, budget)
        return AttentionOutput(attend(batch, selection), selection.kept)

    prepared = make_prepared(instance, method, ctx.options, run, budget)
    prepared.flops = 2.0 * _mean(per_layer, "macs")
    prepared.bytes_min = _mean(per_layer, "dram_bytes") or prepared.bytes_min
    prepared.simulated_time_s = _mean(per_layer, "time_s")
    prepared.energy_j = _mean(per_layer, "energy_j")
    prepared.info = _info(per_layer, dense, ctx.device.cfg.name)
    return prepared


@register_kernel("attention", "dense", device="sim",
                 description="simulated array: QK^T and PV over every causal key (baseline)")
def sim_attention_dense(instance, inputs, ctx) -> Prepared:
    return prepare(instance, inputs, ctx, "dense")


@register_kernel("attention", "block-sparse", device="sim", needs=("numba",),
                 description="simulated array: QK^T and PV over the key blocks (prefill) / "
                             "Quest pages (decode) the CPU block-sparse kernel selects")
def sim_attention_block_sparse(instance, inputs, ctx) -> Prepared:
    return prepare(instance, inputs, ctx, "block-sparse")


@register_kernel("attention", "window", device="sim",
                 description="simulated array: QK^T and PV over sinks + a sliding window")
def sim_attention_window(instance, inputs, ctx) -> Prepared:
    return prepare(instance, inputs, ctx, "window")
