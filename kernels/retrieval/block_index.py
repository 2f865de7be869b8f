"""Our docid-blocked inverted index: the shared index of the ``block-max`` and ``daat`` kernels.

Documents are renumbered so that similar ones are neighbours (``reorder``: a shallow
clustering, ``kernels.retrieval.reorder``; BMP, Mallia et al. SIGIR 2024, uses graph
bisection for the same end) and cut into blocks of ``block`` consecutive new ids. Each
term's posting list is sorted by new id; for each block holding the term one entry gives
the block (``bm_block``), the term's largest weight in it (``bm_max``) and where its
postings in that block start (``bm_start``, absolute; they end where the next entry's
start, or the list, ends). A block's bound sum_t q_t * max_t(block) caps every score in
it; evaluating a block reads only the postings of the query's terms inside it.

Main entry: ``BlockIndex.build(docs, block, reorder)``; ``search(..., mode=...)`` with
``mode`` "best-first" (``blockmax_search``) or "docid" (``daat_search``). Bytes: postings
(int32 doc + float32 weight), block entries (int32 + float32 + int64), the id map.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from kernels.retrieval import blockmax_search as bs
from kernels.retrieval import daat_search as ds
from kernels.retrieval.numba_common import chunks
from kernels.retrieval.reorder import cluster_order


class BlockIndex:
    def __init__(self, arrays: tuple, block: int, n_docs: int, stats: dict):
        self.arrays, self.block, self.n_docs, self.stats = arrays, block, n_docs, stats
        self.vocab = len(arrays[0]) - 1
        self.n_blocks = -(-n_docs // block)
        self._scratch = (np.zeros(self.n_blocks, np.float64), np.empty(self.n_blocks, np.int64),
                         np.zeros(block, np.float64))

    @classmethod
    def build(cls, docs, block: int = 8, reorder: bool = True) -> BlockIndex:
        n, vocab = docs.shape
        old_of = cluster_order(docs) if reorder else np.arange(n, dtype=np.int64)
        csc = docs[old_of].tocsc()
        csc.sort_indices()
        col_ptr = csc.indptr.astype(np.int64)
        counts = np.zeros(vocab, np.int64)
        bs.count_block_runs(col_ptr, csc.indices, block, counts)
        bm_ptr = np.zeros(vocab + 1, np.int64)
        np.cumsum(counts, out=bm_ptr[1:])
        bm_block, bm_max = np.empty(bm_ptr[-1], np.int32), np.empty(bm_ptr[-1], np.float32)
        bm_start = np.empty(bm_ptr[-1] + 1, np.int64)
        bm_start[-1] = col_ptr[-1]
        bs.fill_block_maxima(col_ptr, csc.indices, csc.data, block, bm_ptr, bm_block, bm_max,
                             bm_start)
        arrays = (bm_ptr, bm_block, bm_max, bm_start, csc.indices.astype(np.int32),
                  csc.data.astype(np.float32), old_of)
        stats = {"blocks": int(-(-n // block)), "block_entries": int(bm_ptr[-1]),
                 "reordered": bool(reorder)}
        return cls(arrays, block, n, stats)

    @property
    def nbytes(self) -> int:
        return int(sum(a.nbytes for a in self.arrays))

    def search(self, q_ptr, q_idx, q_val, k: int, mode: str, alpha: float = 1.0,
               budget: int = 0):
        """Top-k ids of a CSR batch. best-first: stop when ``alpha * bound`` cannot beat
        theta or after ``budget`` blocks; docid: skip a block when ``bound < theta / alpha``."""
        module = bs if mode == "best-first" else ds
        rows = len(q_ptr) - 1
        out = np.empty((rows, k), np.int64)
        if rows == 1:
            ub, cand, acc = self._scratch
            module.search_one(q_idx, q_val, alpha, budget, self.block, self.arrays, ub, cand,
                              acc, np.empty(k, np.float64), np.empty(k, np.int64), out[0])
            return out
        module.search_many(q_ptr, q_idx, q_val, chunks(rows, nb.get_num_threads()), alpha,
                           budget, self.block, self.arrays, self.n_blocks, out)
        return out
