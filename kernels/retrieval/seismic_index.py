"""Our Seismic-style index as one object: build once (untimed), search many times.

``SeismicIndex.build(docs, n_postings, centroid_fraction, summary_energy, doc_cut)`` runs
the three passes of ``seismic_build``; ``search(q_ptr, q_idx, q_val, k, query_cut,
heap_factor)`` answers a CSR batch (one query: one thread, no parallel region; more:
chunks of queries over numba's threads). ``nbytes`` counts every array the search reads:
forward index (int32 or uint16 term ids, float32 values), block documents (int32) and
summaries (uint16/int32 ids, 8-bit codes, one float32 scale per block).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from kernels.retrieval import seismic_build as sb
from kernels.retrieval import seismic_search as ss
from kernels.retrieval.numba_common import chunks


def term_dtype(vocab: int):
    """uint16 term ids when the vocabulary fits (BERT's does): 2 bytes per stored entry."""
    return np.uint16 if vocab <= 65536 else np.int32


def _postings(docs, n_postings: int):
    """Each term's ``n_postings`` heaviest postings, heaviest first: (ptr, docs, values)."""
    csc = docs.tocsc()
    csc.sort_indices()
    lengths = np.minimum(np.diff(csc.indptr), n_postings)
    ptr = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=ptr[1:])
    out_docs = np.empty(ptr[-1], np.int32)
    out_vals = np.empty(ptr[-1], np.float32)
    sb.prune_lists(csc.indptr.astype(np.int64), csc.indices, csc.data, ptr, out_docs, out_vals)
    return ptr, out_docs


def _balanced(count: int, parts: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A shuffled order of 0..count-1 and chunk bounds: parallel chunks of similar cost."""
    order = np.random.default_rng(seed).permutation(count).astype(np.int64)
    return order, np.linspace(0, count, parts + 1).round().astype(np.int64)


def _term_major(term_blocks, sum_ptr, sum_idx, sum_code, vocab: int) -> tuple:
    """Each list's summary entries sorted by (term, block) (``transpose_summaries``):
    ``list_entries`` (per term: its list's entry range), ``sum_term``, ``sum_block`` (block
    within the list), ``sum_code``."""
    longest = int(np.diff(term_blocks).max(initial=0))
    out_term = np.empty_like(sum_idx)
    out_block = np.empty(len(sum_idx), np.uint16 if longest <= 65536 else np.int32)
    out_code = np.empty_like(sum_code)
    order, bounds = _balanced(vocab, 8 * nb.get_num_threads(), seed=1)
    sb.transpose_summaries(term_blocks, sum_ptr, sum_idx, sum_code, order, bounds, out_term,
                           out_block, out_code)
    return sum_ptr[term_blocks], out_term, out_block, out_code


class SeismicIndex:
    """Forward index + blocked, summarized posting lists (see ``seismic_build``)."""

    def __init__(self, arrays: tuple, vocab: int, n_docs: int, max_blocks: int, stats: dict):
        self.arrays, self.vocab, self.n_docs = arrays, vocab, n_docs
        self.max_blocks, self.stats = max_blocks, stats
        self._scratch = (np.zeros(vocab, np.float64), np.zeros((n_docs + 7) // 8, np.uint8),
                         np.empty(max(max_blocks, 1), np.float64),
                         np.empty(max(max_blocks, 1), np.int64))

    @classmethod
    def build(cls, docs, n_postings: int = 4000, centroid_fraction: float = 0.1,
              summary_energy: float = 0.4, doc_cut: int = 15) -> SeismicIndex:
        n_docs, vocab = docs.shape
        fwd_ptr = docs.indptr.astype(np.int64)
        fwd_idx = docs.indices.astype(term_dtype(vocab))
        fwd_val = docs.data.astype(np.float32)
        ptr, pruned = _postings(docs, n_postings)
        top_idx = np.full((n_docs, doc_cut), -1, np.int64)
        top_val = np.zeros((n_docs, doc_cut), np.float32)
        sb.top_terms(fwd_ptr, fwd_idx, fwd_val, doc_cut, top_idx, top_val)
        block_docs, starts = np.empty_like(pruned), np.zeros(len(pruned), np.uint8)
        longest = int(np.diff(ptr).max(initial=0))
        beta_max = max(1, int(np.ceil(centroid_fraction * longest)))
        order, bounds = _balanced(vocab, 8 * nb.get_num_threads())
        sb.cluster_lists(ptr, pruned, order, bounds, centroid_fraction, top_idx, top_val,
                         n_docs, vocab, beta_max, longest, block_docs, starts)
        del top_idx, top_val
        return cls._with_summaries(fwd_ptr, fwd_idx, fwd_val, ptr, block_docs, starts,
                                   vocab, summary_energy)

    @classmethod
    def _with_summaries(cls, fwd_ptr, fwd_idx, fwd_val, ptr, block_docs, starts, vocab,
                        energy) -> SeismicIndex:
        first = np.flatnonzero(starts)
        block_ptr = np.append(first, len(block_docs)).astype(np.int64)
        term_blocks = np.searchsorted(first, ptr).astype(np.int64)  # list t: its blocks
        n_blocks = len(first)
        bounds = np.linspace(0, n_blocks, 8 * nb.get_num_threads() + 1).round().astype(np.int64)
        fwd = (fwd_ptr, fwd_idx, fwd_val)
        sizes, sum_scale = np.zeros(n_blocks, np.int64), np.empty(n_blocks, np.float32)
        none_idx, none_code = np.empty(0, fwd_idx.dtype), np.empty(0, np.uint8)
        sb.summarize_blocks(block_ptr, block_docs, bounds, fwd, vocab, energy,
                            np.zeros(n_blocks, np.int64), none_idx, none_code, sizes, sum_scale)
        sum_ptr = np.zeros(n_blocks + 1, np.int64)
        np.cumsum(sizes, out=sum_ptr[1:])
        sum_idx = np.empty(sum_ptr[-1], fwd_idx.dtype)
        sum_code = np.empty(sum_ptr[-1], np.uint8)
        sb.summarize_blocks(block_ptr, block_docs, bounds, fwd, vocab, energy, sum_ptr,
                            sum_idx, sum_code, sizes, sum_scale)
        halves = fwd_val.astype(np.float16).view(np.uint16)  # the search reads float16 values
        arrays = (fwd_ptr, fwd_idx, halves, term_blocks, block_ptr, block_docs,
                  *_term_major(term_blocks, sum_ptr, sum_idx, sum_code, vocab), sum_scale)
        per_term = np.diff(term_blocks)
        stats = {"blocks": int(n_blocks), "postings": int(len(block_docs)),
                 "summary_entries": int(sum_ptr[-1]),
                 "mean_block_docs": float(len(block_docs) / max(n_blocks, 1))}
        return cls(arrays, vocab, len(fwd_ptr) - 1, int(per_term.max(initial=0)), stats)

    @property
    def nbytes(self) -> int:
        return int(sum(a.nbytes for a in self.arrays))

    def search(self, q_ptr, q_idx, q_val, k: int, query_cut: int, heap_factor: float):
        """Top-k ids (int64, -1 padded) of every query of a CSR batch."""
        rows = len(q_ptr) - 1
        out = np.empty((rows, k), np.int64)
        if rows == 1:
            dense, visited, scores, cand = self._scratch
            ss.search_one(q_idx, q_val, query_cut, heap_factor, self.arrays, dense, visited,
                          scores, cand, np.empty(k, np.float64), np.empty(k, np.int64), out[0])
            return out
        ss.search_many(q_ptr, q_idx, q_val, chunks(rows, nb.get_num_threads()), query_cut,
                       heap_factor, self.arrays, self.vocab, self.n_docs,
                       max(self.max_blocks, 1), out)
        return out
