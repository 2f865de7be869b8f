"""Where a query's time goes in our Seismic search: ``python -m kernels.retrieval.seismic_profile``.

Runs ``seismic_search.search_one``'s loop over the bench's per-query queries, on one
thread, with the CPU's cycle counter (``llvm.readcyclecounter``) read around each phase:
``setup`` (scatter the query, clear the visited bits, order the terms), ``summaries``
(``_block_scores``: the list's summary entries of the query's terms), ``select`` (the
candidate heap of blocks above the floor, and popping it), ``forward`` (``_visit_block``:
scoring the block's unseen documents on the float16 forward index, heap pushes included)
and ``output``. Also counts, per query, the summary entries read, blocks visited,
documents scored and forward-index entries read, and checks that its answers equal
``search_one``'s. Prints one table; the cycle shares are what to optimise.
"""

from __future__ import annotations

import argparse
import os
import time

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from kernels import jit_cache
from kernels.retrieval import seismic_search as ss
from kernels.retrieval.numba_common import (
    clear,
    lower_bound,
    order_by_weight,
    scatter,
    sift_max,
    write_sorted,
)

jit_cache.install(__file__)  # before any @njit below: the cache key covers this whole folder

PHASES = ("setup", "summaries", "select", "forward", "output")
COUNTS = ("summary_entries", "lists", "blocks", "docs_scored", "forward_entries")


@intrinsic
def cycles(typingctx):
    """The CPU's cycle counter (rdtsc on x86)."""
    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i64, []),
                                            "llvm.readcyclecounter")
        return builder.call(fn, [])

    return types.int64(), codegen


@nb.njit(cache=True)
def _entries(t, q_idx, ix):
    """Summary entries of term t's list that belong to the query's terms."""
    list_entries, sum_term = ix[6], ix[7]
    n, pos, end = 0, list_entries[t], list_entries[t + 1]
    for j in range(len(q_idx)):
        pos = lower_bound(sum_term, pos, end, q_idx[j])
        while pos < end and sum_term[pos] == q_idx[j]:
            n += 1
            pos += 1
    return n


@nb.njit(cache=True)
def _count_block(b, ix, visited, counts):
    """Documents of block b not scored yet, and their stored entries, into ``counts``."""
    fwd_ptr, block_ptr, block_docs = ix[0], ix[4], ix[5]
    for p in range(block_ptr[b], block_ptr[b + 1]):
        d = block_docs[p]
        if not visited[d >> 3] & np.uint8(1 << (d & 7)):
            counts[3] += 1
            counts[4] += fwd_ptr[d + 1] - fwd_ptr[d]


@nb.njit(cache=True)
def _profiled(q_idx, q_val, query_cut, heap_factor, ix, dense, visited, scores, cand, hs, hd,
              out_row, spent, counts):
    """``search_one`` with cycle counters around each phase (into ``spent``, by PHASES)."""
    c0 = cycles()
    scatter(dense, q_idx, q_val)
    visited[:] = 0
    size = 0
    order = order_by_weight(q_val)
    c1 = cycles()
    spent[0] += c1 - c0
    for r in range(min(query_cut, len(order))):
        t = q_idx[order[r]]
        c0 = cycles()
        n_blocks = ss._block_scores(t, q_idx, q_val, ix, scores)
        c1 = cycles()
        floor = heap_factor * hs[0] if size == len(hs) else 0.0
        m = ss._candidates(scores, n_blocks, floor, cand)
        c2 = cycles()
        spent[1] += c1 - c0
        spent[2] += c2 - c1
        counts[0] += _entries(t, q_idx, ix)
        counts[1] += 1
        while m > 0:
            c0 = cycles()
            j = cand[0]
            if size == len(hs) and scores[j] < heap_factor * hs[0]:
                spent[2] += cycles() - c0
                break
            b = ix[3][t] + j
            _count_block(b, ix, visited, counts)
            c1 = cycles()
            size = ss._visit_block(b, ix, dense, visited, hs, hd, size)
            c2 = cycles()
            counts[2] += 1
            m -= 1
            cand[0] = cand[m]
            sift_max(scores, cand, 0, m)
            c3 = cycles()
            spent[3] += c2 - c1
            spent[2] += (c1 - c0) + (c3 - c2)
    c0 = cycles()
    write_sorted(hs, hd, size, out_row)
    clear(dense, q_idx)
    spent[4] += cycles() - c0


def profile(index, queries: list, query_cut: int, heap_factor: float, k: int = 10) -> dict:
    """Cycle shares per phase, mean counts per query, and wall time per query of both the
    plain and the profiled loop (ms)."""
    dense, visited, scores, cand = index._scratch
    hs, hd = np.empty(k, np.float64), np.empty(k, np.int64)
    spent, counts = np.zeros(len(PHASES), np.int64), np.zeros(len(COUNTS), np.int64)
    out, plain = np.empty(k, np.int64), np.empty((len(queries), k), np.int64)
    args = (query_cut, heap_factor, index.arrays, dense, visited, scores, cand, hs, hd)
    for q in queries[:2]:  # compile and warm
        _profiled(q[1], q[2], *args, out, spent.copy(), counts.copy())
        index.search(*q, k, query_cut, heap_factor)
    start = time.perf_counter()
    for i, q in enumerate(queries):
        plain[i] = index.search(*q, k, query_cut, heap_factor)[0]
    plain_s = time.perf_counter() - start
    start = time.perf_counter()
    for i, q in enumerate(queries):
        _profiled(q[1], q[2], *args, out, spent, counts)
        if not np.array_equal(out, plain[i]):
            raise AssertionError(f"profiled search differs from search_one on query {i}")
    profiled_s = time.perf_counter() - start
    n = len(queries)
    return {"share": dict(zip(PHASES, spent / max(spent.sum(), 1), strict=True)),
            "per_query": dict(zip(COUNTS, counts / n, strict=True)),
            "plain_ms": 1e3 * plain_s / n, "profiled_ms": 1e3 * profiled_s / n,
            "cycles_per_query": float(spent.sum() / n)}


def main(argv: list[str] | None = None) -> int:
    from kernels.retrieval.options import csr_arrays
    from kernels.retrieval.ours import SEISMIC
    from kernels.retrieval.seismic_index import SeismicIndex
    from suite import threads
    from suite.registry import get_family

    threads.apply()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--query-cut", type=int, default=10)
    parser.add_argument("--heap-factor", type=float, default=0.9)
    args = parser.parse_args(argv)
    instance = get_family("retrieval").instantiate({"docs": args.docs, "batch": 1}, seed=0)
    inputs = instance.build_inputs()
    batches = instance.batches(inputs, args.queries, "per_query")
    start = time.perf_counter()
    index = SeismicIndex.build(inputs.docs, **SEISMIC.build)
    print(f"built in {time.perf_counter() - start:.1f} s: {index.stats}, "
          f"{index.nbytes / 1e6:,.0f} MB: " + ", ".join(
              f"{name} {a.nbytes / 1e6:,.0f}" for name, a in zip(
                  ("fwd_ptr", "fwd_idx", "fwd_val", "term_blocks", "block_ptr", "block_docs",
                   "list_entries", "sum_term", "sum_block", "sum_code", "sum_scale"),
                  index.arrays, strict=True)))
    result = profile(index, [csr_arrays(b) for b in batches], args.query_cut, args.heap_factor)
    print(f"docs {args.docs:,}  query_cut {args.query_cut}  heap_factor {args.heap_factor}  "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"ms per query: plain {result['plain_ms']:.3f}, profiled {result['profiled_ms']:.3f}"
          f"; cycles per query {result['cycles_per_query']:,.0f}")
    print("cycle share: " + ", ".join(f"{k} {v:.1%}" for k, v in result["share"].items()))
    print("per query: " + ", ".join(f"{k} {v:,.1f}" for k, v in result["per_query"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
