"""CPU attention kernels: ``flash`` (ours, dense), ``window`` (StreamingLLM) and
``block-sparse`` (MInference blocks in prefill, Quest pages in decode); the registration
of ``dense`` (the faster of ``flash`` and torch SDPA) is in ``dense_best``.

Every ``run(batch)`` returns an ``AttentionOutput``. Prefill kernels build their layouts
(``layout``) inside the timed call; decode kernels build them and the KV-side metadata in
``put`` (untimed: they live with the cache). Options (YAML ``options:``): ``window``:
``sinks`` (default 4); ``block-sparse``: ``page`` (decode's page, default 16; a
divisor of 64; prefill blocks are 64 keys). numba is imported
when a kernel is prepared; each prepare runs its kernel once on a tiny batch so compiling
(or loading the on-disk cache) never lands in a timed call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernels.attention.common import Recorder, check_options, make_prepared, method_budget
from suite.errors import Unsupported
from suite.registry import register_kernel
from suite.workloads.attention_batch import (
    AttentionBatch,
    AttentionOutput,
    BlockKept,
    WindowKept,
)


@dataclass(frozen=True)
class Feed:
    """A batch plus the layouts a kernel reads (``put`` builds them)."""

    batch: AttentionBatch
    arrays: tuple


def threads() -> int:
    import numba
    return int(numba.get_num_threads())


def tiny_batch(instance) -> AttentionBatch:
    """A 2-block batch with the instance's heads and dtype, to compile kernels on."""
    s = instance.shape
    rng = np.random.default_rng(0)
    length = 130
    n_q = length if instance.phase == "prefill" else 1
    q = rng.standard_normal((1, s.heads, n_q, s.head_dim)).astype(np.float32)
    k, v = (rng.standard_normal((1, s.kv_heads, length, s.head_dim)).astype(np.float32)
            for _ in range(2))
    pos = np.arange(length - n_q, length, dtype=np.int64)
    return AttentionBatch(q, k, v, pos, np.arange(min(n_q, 4)), 0)


def dense_like(window: int, sinks: int, phase: str):
    """run/put of our flash kernel; window > 0 makes it StreamingLLM."""
    from kernels.attention import cpu_dense, layout

    def put(batch):
        if phase == "prefill":
            return Feed(batch, ())
        return Feed(batch, (layout.keys_transposed(batch.k), layout.padded(batch.v)))

    def run(feed):
        batch = feed.batch
        qs = layout.scaled_queries(batch.q)
        out = np.empty(batch.q.shape, np.float32)
        if phase == "prefill":
            kT, vp = layout.keys_transposed(batch.k), layout.padded(batch.v)
            cpu_dense.prefill(qs, kT, vp, batch.q_pos, out, window, sinks)
        else:
            cpu_dense.decode(qs, *feed.arrays, batch.q_pos, out, window, sinks, threads())
        return AttentionOutput(out, WindowKept(sinks, window) if window else None)

    return run, put


@register_kernel("attention", "flash", device="cpu", needs=("numba",),
                 description="ours: blocked flash attention, online softmax, AVX-512 tiles")
def flash(instance, inputs, ctx):
    check_options(ctx.options, ())
    run, put = dense_like(0, 0, instance.phase)
    run(put(tiny_batch(instance)))
    return make_prepared(instance, "dense", {}, run, None, put=put,
                         info={"implementation": "flash (ours)"})


@register_kernel("attention", "window", device="cpu", needs=("numba",),
                 description="StreamingLLM: sink tokens + sliding window (flash tiles)")
def window(instance, inputs, ctx):
    check_options(ctx.options, ("sinks",))
    budget = method_budget(instance, "window", ctx.options)
    run, put = dense_like(budget.window, budget.sinks, instance.phase)
    run(put(tiny_batch(instance)))
    return make_prepared(instance, "window", ctx.options, run, budget, put=put)


@register_kernel("attention", "block-sparse", device="cpu", needs=("numba",),
                 description="top key blocks by pooled scores (prefill, MInference) / "
                             "Quest pages (decode)")
def block_sparse(instance, inputs, ctx):
    check_options(ctx.options, ("page",))  # pages are decode's unit; prefill uses 64-key blocks
    if 64 % int(ctx.options.get("page", 16)):
        raise Unsupported(f"page={ctx.options['page']}; allowed: a divisor of 64")
    budget = method_budget(instance, "block-sparse", ctx.options)
    make = _blocks_prefill if instance.phase == "prefill" else _quest_decode
    run, put = make(budget)
    run(put(tiny_batch(instance)))
    return make_prepared(instance, "block-sparse", ctx.options, run, budget, put=put)


def _blocks_prefill(budget):
    from kernels.attention import cpu_block_sparse as bs
    from kernels.attention import layout

    def run(feed):
        batch = feed.batch
        qs = layout.scaled_queries(batch.q)
        n_b, n_h, n_q = batch.q.shape[:3]
        n_qb = -(-n_q // 64)
        blocks = np.zeros((n_b, n_h, n_qb, budget.units), np.int64)
        counts = np.zeros((n_b, n_h, n_qb), np.int64)
        bs.select_blocks(qs, batch.k, batch.q_pos, budget.units, blocks, counts)
        out = np.empty(batch.q.shape, np.float32)
        bs.prefill(qs, layout.keys_transposed(batch.k), layout.padded(batch.v), batch.q_pos,
                   blocks, counts, out)
        return AttentionOutput(out, BlockKept(64, 64, blocks, counts))

    return run, lambda batch: Feed(batch, ())


def _quest_decode(budget):
    from kernels.attention import cpu_block_sparse as bs
    from kernels.attention import layout

    page = budget.unit_keys

    def put(batch):
        return Feed(batch, (layout.keys_transposed(batch.k), layout.padded(batch.v),
                            *bs.page_bounds(batch.k, page)))

    def run(feed):
        batch = feed.batch
        rec = Recorder(batch, budget.cap)
        out = np.empty(batch.q.shape, np.float32)
        bs.decode(layout.scaled_queries(batch.q), *feed.arrays[:2], batch.q_pos,
                  *feed.arrays[2:], page, budget.units, rec.slot_of, rec.rec_idx, rec.rec_cnt,
                  rec.row_cnt, out)
        return AttentionOutput(out, rec.kept())

    return run, put
