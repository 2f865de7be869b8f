"""What an attention call computes and what a kernel hands back: batches, outputs, kept sets.

``AttentionBatch``: float32 ``q`` (B x H x Lq x d), ``k`` and ``v`` (B x Hkv x L x d),
``q_pos`` (the position of each query; prefill ``0..L-1``, decode the last ones), the
sampled query rows (``sample``: indices into Lq) that accuracy is measured on, and ``layer``
(which calibration applies). Query head h reads KV head ``h // (H // Hkv)`` (GQA, as
Hugging Face's ``repeat_kv``). Query i sees keys ``j <= q_pos[i]`` (causal).

A kernel's ``run(batch)`` returns ``AttentionOutput(out, kept)``: ``out`` (B x H x Lq x d)
and ``kept``, the key set it attended to, in one of four forms: ``None`` (every causal
key), ``WindowKept`` (sinks + a window), ``BlockKept`` (key blocks per query block) or
``RowKept`` (the kept key positions of the sampled rows, recorded by the kernel as it
selected them, plus the total kept count per head). ``kept_mask(kept, batch, b, h)``
gives the keys each sampled row kept (S x L; ``kept_keys`` one row's positions);
``kept_total(kept, batch)`` the number of kept (query, key) entries, for the density.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class AttentionBatch:
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    q_pos: np.ndarray
    sample: np.ndarray
    layer: int = 0

    @property
    def group(self) -> int:
        return self.q.shape[1] // self.k.shape[1]

    @property
    def causal_total(self) -> int:
        """(query, key) entries of the causal pattern, over batch and heads."""
        b, h = self.q.shape[:2]
        return int(b * h * int(np.sum(self.q_pos.astype(np.int64) + 1)))

    def slot_of(self) -> np.ndarray:
        """int32 per query row: its index in ``sample``, or -1 (kernels record those rows)."""
        slots = np.full(self.q.shape[2], -1, dtype=np.int32)
        slots[self.sample] = np.arange(len(self.sample), dtype=np.int32)
        return slots


@dataclass(frozen=True)
class WindowKept:
    """Keys ``j < sinks`` and ``q_pos - window < j <= q_pos`` (StreamingLLM)."""

    sinks: int
    window: int


@dataclass(frozen=True)
class BlockKept:
    """Query block a (``block_q`` rows of Lq) of head h attends to the causal keys of key
    blocks ``blocks[b, h, a, :counts[b, h, a]]`` (``block_k`` keys each)."""

    block_q: int
    block_k: int
    blocks: np.ndarray
    counts: np.ndarray


@dataclass(frozen=True)
class RowKept:
    """``idx[b, h, s, :count[b, h, s]]``: the kept key positions of sampled row s;
    ``total[b, h]``: kept entries of head h over all its rows."""

    idx: np.ndarray
    count: np.ndarray
    total: np.ndarray


@dataclass(frozen=True)
class AttentionOutput:
    out: Any
    kept: Any = None


def kept_keys(kept: Any, batch: AttentionBatch, b: int, h: int, s: int) -> np.ndarray:
    """Sorted key positions that sampled row ``s`` of head ``h`` attended to."""
    return np.flatnonzero(kept_mask(kept, batch, b, h)[s])


def kept_mask(kept: Any, batch: AttentionBatch, b: int, h: int) -> np.ndarray:
    """S x L bool: the keys each sampled row of head ``h`` attended to (causal only)."""
    rows = batch.sample
    pos = batch.q_pos[rows].astype(np.int64)[:, None]
    keys = np.arange(batch.k.shape[2])[None]
    causal = keys <= pos
    if kept is None:
        return causal
    if isinstance(kept, WindowKept):
        return causal & ((keys < kept.sinks) | (keys > pos - kept.window))
    if isinstance(kept, BlockKept):
        n_kb = -(-batch.k.shape[2] // kept.block_k)
        chosen = np.zeros((kept.blocks.shape[2], n_kb + 1), bool)
        for a in range(kept.blocks.shape[2]):
            chosen[a, kept.blocks[b, h, a, :kept.counts[b, h, a]]] = True
        return causal & chosen[rows // kept.block_q][:, keys[0] // kept.block_k]
    if isinstance(kept, RowKept):
        return _row_mask(kept, b, h, causal.shape)
    raise TypeError(f"unknown kept set {type(kept).__name__}")


def _row_mask(kept: RowKept, b: int, h: int, shape: tuple[int, int]) -> np.ndarray:
    """The recorded positions as a mask; out-of-range ones land in a spill column, so
    ``kept_problem`` can see them (a valid kernel never writes them)."""
    count = kept.count[b, h].astype(np.int64)
    idx = kept.idx[b, h].astype(np.int64)
    valid = np.arange(idx.shape[1])[None] < count[:, None]
    rows = np.repeat(np.arange(shape[0]), count)
    cols = idx[valid]
    cols = np.where((cols >= 0) & (cols < shape[1]), cols, shape[1])
    mask = np.zeros((shape[0], shape[1] + 1), bool)
    mask[rows, cols] = True
    return mask


def kept_problem(kept: Any, mask: np.ndarray, batch: AttentionBatch, h: int) -> str:
    """Why a recorded kept set is illegal (a key past the row's position, out of range or
    kept twice), or ""."""
    if not isinstance(kept, RowKept):
        return ""
    length = batch.k.shape[2]
    pos = batch.q_pos[batch.sample].astype(np.int64)
    beyond = mask[:, :length] & (np.arange(length)[None] > pos[:, None])
    bad = np.flatnonzero(beyond.any(axis=1) | mask[:, length])
    if bad.size:
        return f"row {int(batch.sample[bad[0]])} of head {h} keeps a key outside 0..{pos[bad[0]]}"
    return ""


def kept_total(kept: Any, batch: AttentionBatch) -> int:
    """Kept (query, key) entries over batch, heads and every query row."""
    if kept is None:
        return batch.causal_total
    n_b, n_h = batch.q.shape[:2]
    pos = batch.q_pos.astype(np.int64)
    if isinstance(kept, WindowKept):
        per_row = np.minimum(pos + 1, kept.sinks) + np.clip(
            pos + 1 - np.maximum(kept.sinks, pos + 1 - kept.window), 0, None)
        return int(n_b * n_h * per_row.sum())
    if isinstance(kept, BlockKept):
        return _block_total(kept, pos)
    if isinstance(kept, RowKept):
        return int(np.asarray(kept.total, dtype=np.int64).sum())
    raise TypeError(f"unknown kept set {type(kept).__name__}")


def _block_total(kept: BlockKept, pos: np.ndarray) -> int:
    """Per (query block, kept key block): its rows' causal keys inside the block."""
    total = 0
    n_b, n_h, n_qb, _ = kept.blocks.shape
    for a in range(n_qb):
        rows = pos[a * kept.block_q:(a + 1) * kept.block_q]
        for b in range(n_b):
            for h in range(n_h):
                starts = kept.blocks[b, h, a, :kept.counts[b, h, a]].astype(np.int64)
                starts = starts * kept.block_k
                inside = np.clip(rows[:, None] + 1 - starts[None], 0, kept.block_k)
                total += int(inside.sum())
    return total
