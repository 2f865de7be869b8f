"""Build our Seismic-style index (Bruch et al., SIGIR 2024), written from the paper.

Steps, each a numba loop parallel over terms or documents:
1. static pruning: each term's posting list keeps its ``n_postings`` heaviest entries;
2. blocking: a list of n postings is split into ceil(centroid_fraction * n) clusters by a
   shallow k-means: random members are the centroids and every member joins the centroid
   with the largest inner product, both sides cut to their ``doc_cut`` heaviest terms
   (the list's own term left out: every member has it); a block's documents are sorted by id;
3. summaries: a block's summary is the coordinate-wise max of its documents, cut to the
   heaviest entries holding ``summary_energy`` of its L1 mass, values quantized to 8 bits
   (rounded up, one scale per block, so a summary never under-states a kept coordinate).
Main entry: ``build_blocks(...)``, used by ``seismic_index.SeismicIndex.build``. Cost:
pruning O(nnz log) ; clustering about postings x doc_cut x (centroids sharing a term);
summaries two passes of postings x non-zeros per document (the max-merge), the main cost.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import prange

from kernels import jit_cache

jit_cache.install(__file__)  # before any @njit below: the cache key covers this whole folder


@nb.njit(inline="always", cache=True)
def _mix(x):
    """splitmix64: a deterministic pseudo-random 64-bit value from ``x``."""
    x = (x + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@nb.njit(parallel=True, cache=True)
def top_terms(ptr, idx, val, cut, out_idx, out_val):
    """Each document's ``cut`` heaviest terms, heaviest first (-1 padded)."""
    for d in prange(len(ptr) - 1):
        lo, hi = ptr[d], ptr[d + 1]
        order = np.argsort(-val[lo:hi], kind="mergesort")
        for j in range(min(cut, hi - lo)):
            out_idx[d, j] = idx[lo + order[j]]
            out_val[d, j] = val[lo + order[j]]


@nb.njit(parallel=True, cache=True)
def prune_lists(col_ptr, col_docs, col_vals, keep_ptr, out_docs, out_vals):
    """Each term's heaviest ``keep_ptr[t+1]-keep_ptr[t]`` postings, heaviest first."""
    for t in prange(len(col_ptr) - 1):
        lo, hi = col_ptr[t], col_ptr[t + 1]
        order = np.argsort(-col_vals[lo:hi], kind="mergesort")
        base = keep_ptr[t]
        for j in range(keep_ptr[t + 1] - base):
            out_docs[base + j] = col_docs[lo + order[j]]
            out_vals[base + j] = col_vals[lo + order[j]]


@nb.njit(cache=True)
def _centroids(t, n, beta, perm):
    """``beta`` distinct positions of 0..n-1 (a seeded partial Fisher-Yates), sorted."""
    for i in range(n):
        perm[i] = i
    for i in range(beta):
        j = i + np.int64(_mix(np.uint64(t) * np.uint64(1000003) + np.uint64(i)) % np.uint64(n - i))
        perm[i], perm[j] = perm[j], perm[i]
    return np.sort(perm[:beta])


@nb.njit(cache=True)
def _mini_index(t, cents, docs, top_idx, top_val, head, nxt, ent_c, ent_w):
    """Chains term -> (centroid, weight) over the centroids' top terms, the list's term out."""
    e = 0
    for j in range(len(cents)):
        d = docs[cents[j]]
        for c in range(top_idx.shape[1]):
            u = top_idx[d, c]
            if u < 0:
                break
            if u != t:
                ent_c[e], ent_w[e], nxt[e] = j, top_val[d, c], head[u]
                head[u] = e
                e += 1
    return e


@nb.njit(cache=True)
def _nearest(cents, pos):
    """The centroid nearest in list position (for members that share no top term)."""
    j = np.searchsorted(cents, pos)
    if j == len(cents) or (j > 0 and pos - cents[j - 1] <= cents[j] - pos):
        return j - 1
    return j


@nb.njit(cache=True)
def best_match(d, t, skip, top_idx, top_val, head, nxt, ent_c, ent_w, acc, seen):
    """Of the entries chained from document ``d``'s top terms (``head``/``nxt`` per term,
    entry e: candidate ``ent_c[e]`` with weight ``ent_w[e]``), the candidate with the largest
    cut inner product with ``d`` (lowest id on ties), or -1 when none shares a term. Term
    ``t`` and terms with ``skip[u]`` (``skip`` may be None) take no part; ``acc`` (zeros,
    one per candidate) and ``seen`` are scratch, left zeroed. Seismic's blocking
    (centroids) and ``reorder`` (seeds) both match documents this way."""
    count = 0
    for c in range(top_idx.shape[1]):
        u = top_idx[d, c]
        if u < 0 or u == t:
            continue
        if skip is not None and skip[u]:
            continue
        e = head[u]
        while e >= 0:
            j = ent_c[e]
            if acc[j] == 0.0:
                seen[count] = j
                count += 1
            acc[j] += top_val[d, c] * ent_w[e]
            e = nxt[e]
    best, best_j = 0.0, -1
    for i in range(count):
        j = seen[i]
        if acc[j] > best or (acc[j] == best and j < best_j):
            best, best_j = acc[j], j
        acc[j] = 0.0
    return best_j


@nb.njit(cache=True)
def _assign_one(t, d, pos, cents, top_idx, top_val, head, nxt, ent_c, ent_w, acc, seen):
    """The centroid with the largest cut inner product with document ``d`` (lowest on ties),
    else the nearest in list position."""
    best_j = best_match(d, t, None, top_idx, top_val, head, nxt, ent_c, ent_w, acc, seen)
    return best_j if best_j >= 0 else _nearest(cents, pos)


@nb.njit(cache=True)
def _cluster_list(t, docs, cf, top_idx, top_val, work):
    """Each member's centroid (0..beta-1) for term ``t``'s list ``docs``."""
    head, nxt, ent_c, ent_w, acc, seen, perm = work
    n = len(docs)
    beta = max(1, min(n, int(np.ceil(cf * n))))
    cents = _centroids(t, n, beta, perm)
    _mini_index(t, cents, docs, top_idx, top_val, head, nxt, ent_c, ent_w)
    assign = np.empty(n, dtype=np.int64)
    for i in range(n):
        assign[i] = _assign_one(t, docs[i], i, cents, top_idx, top_val, head, nxt, ent_c,
                                ent_w, acc, seen)
    for j in range(beta):  # reset the chains' heads for the next list
        for c in range(top_idx.shape[1]):
            u = top_idx[docs[cents[j]], c]
            if u >= 0:
                head[u] = -1
    return assign


@nb.njit(cache=True)
def _group(docs, assign, n_docs, out, starts):
    """Members grouped by centroid, by document id inside a group; flag each group's start."""
    keys = assign * n_docs + docs
    keys.sort()
    for i in range(len(keys)):
        out[i] = keys[i] % n_docs
        starts[i] = 1 if i == 0 or keys[i] // n_docs != keys[i - 1] // n_docs else 0


@nb.njit(parallel=True, cache=True)
def cluster_lists(list_ptr, list_docs, order, bounds, cf, top_idx, top_val, n_docs, vocab,
                  beta_max, n_max, out_docs, starts):
    """Pass 1, parallel over chunks of terms (``order`` shuffled, ``bounds`` the chunks)."""
    cut = top_idx.shape[1]
    for c in prange(len(bounds) - 1):
        work = (np.full(vocab, -1, np.int64), np.empty(beta_max * cut, np.int64),
                np.empty(beta_max * cut, np.int64), np.empty(beta_max * cut, np.float32),
                np.zeros(beta_max, np.float64), np.empty(beta_max, np.int64),
                np.empty(max(n_max, 1), np.int64))
        for i in range(bounds[c], bounds[c + 1]):
            t = order[i]
            lo, hi = list_ptr[t], list_ptr[t + 1]
            if hi > lo:
                assign = _cluster_list(t, list_docs[lo:hi], cf, top_idx, top_val, work)
                _group(list_docs[lo:hi].astype(np.int64), assign, n_docs, out_docs[lo:hi],
                       starts[lo:hi])


@nb.njit(cache=True)
def _merge(docs, fwd_ptr, fwd_idx, fwd_val, dense, touched):
    """Coordinate-wise max of the documents into ``dense``; the touched terms' count."""
    m = 0
    for d in docs:
        for p in range(fwd_ptr[d], fwd_ptr[d + 1]):
            u, v = fwd_idx[p], fwd_val[p]
            if dense[u] == 0.0:
                touched[m] = u
                m += 1
            if v > dense[u]:
                dense[u] = v
    return m


@nb.njit(cache=True)
def _energy_codes(dense, touched, m, energy, hist, codes):
    """8-bit codes of the merged values (rounded up: code * scale >= value) and the lowest
    code kept: entries with a higher code, then enough at that code, hold ``energy`` of
    the L1 mass (a sort by value, to the codes' resolution, without sorting)."""
    top = 0.0
    for i in range(m):
        top = max(top, dense[touched[i]])
    scale = top / 255.0 if top > 0 else 1.0
    hist[:] = 0.0
    total = 0.0
    for i in range(m):
        v = dense[touched[i]]
        codes[i] = min(255, max(1, int(np.ceil(v / scale))))
        hist[codes[i]] += v
        total += v
    acc, low = 0.0, 255
    while low > 1 and acc + hist[low] < energy * total:
        acc += hist[low]
        low -= 1
    return scale, low, energy * total - acc  # the mass still wanted from code ``low``


@nb.njit(cache=True)
def _summarize(docs, fwd, dense, touched, hist, codes, energy, out_idx, out_code, base):
    """One block's summary, written at ``base`` when ``out_idx`` is given; (length, scale)."""
    m = _merge(docs, fwd[0], fwd[1], fwd[2], dense, touched)
    scale, low, wanted = _energy_codes(dense, touched, m, energy, hist, codes)
    n = 0
    for i in range(m):
        u = touched[i]
        keep = codes[i] > low or (codes[i] == low and wanted > 0.0)
        if codes[i] == low and keep:
            wanted -= dense[u]
        if keep:
            if len(out_idx):
                out_idx[base + n], out_code[base + n] = u, codes[i]
            n += 1
        dense[u] = 0.0
    return n, scale


@nb.njit(parallel=True, cache=True)
def summarize_blocks(block_ptr, block_docs, bounds, fwd, vocab, energy, sum_ptr, sum_idx,
                     sum_code, sizes, scales):
    """Pass 2 (``sum_idx`` empty: each block's summary length) or 3 (the summaries)."""
    for c in prange(len(bounds) - 1):
        dense, touched = np.zeros(vocab, np.float32), np.empty(vocab, np.int64)
        hist, codes = np.zeros(256, np.float64), np.empty(vocab, np.int64)
        for b in range(bounds[c], bounds[c + 1]):
            docs = block_docs[block_ptr[b]:block_ptr[b + 1]]
            sizes[b], scales[b] = _summarize(docs, fwd, dense, touched, hist, codes, energy,
                                             sum_idx, sum_code, sum_ptr[b])


@nb.njit(cache=True)
def _transpose_list(b0, b1, sum_ptr, sum_idx, sum_code, out_term, out_block, out_code):
    """One list's summary entries re-ordered by (term, block), in place of the originals'
    range: the search then reads only the entries of the query's terms."""
    lo, hi, n_blocks = sum_ptr[b0], sum_ptr[b1], b1 - b0
    keys = np.empty(hi - lo, np.int64)
    for b in range(b0, b1):
        for p in range(sum_ptr[b], sum_ptr[b + 1]):
            keys[p - lo] = np.int64(sum_idx[p]) * n_blocks + (b - b0)
    order = np.argsort(keys)
    for r in range(hi - lo):
        key = keys[order[r]]
        out_term[lo + r] = key // n_blocks
        out_block[lo + r] = key % n_blocks
        out_code[lo + r] = sum_code[lo + order[r]]


@nb.njit(parallel=True, cache=True)
def transpose_summaries(term_blocks, sum_ptr, sum_idx, sum_code, order, bounds, out_term,
                        out_block, out_code):
    """Every list's summaries term-major (``_transpose_list``), chunks of lists in parallel."""
    for c in prange(len(bounds) - 1):
        for i in range(bounds[c], bounds[c + 1]):
            t = order[i]
            if term_blocks[t + 1] > term_blocks[t]:
                _transpose_list(term_blocks[t], term_blocks[t + 1], sum_ptr, sum_idx, sum_code,
                                out_term, out_block, out_code)
