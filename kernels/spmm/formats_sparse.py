"""Unstructured formats with narrow metadata, for the decode kernels and the tiled CSR.

``BitmapMatrix`` (as in Mustafar): per row one bit per position along K (K padded to 64)
and the kept values packed in position order; metadata is 1 bit per position whatever the
density, so it is the smallest format from ~1/8 density up (2:4: 2.125 bytes per position
in float32 against 4 dense). ``bitmap_compress(weight)`` keeps the non-zeros,
``bitmap_from_nm(nm)`` the slots of an N:M matrix (its padded zeros included).

``CsrMatrix``: CSR whose column indices are as narrow as K allows (uint16 up to K = 65536,
else uint32) and 64-bit row pointers; ``k_splits(rows_k)`` adds, per row and K block of
``rows_k`` columns, where the block's entries start (offsets from the row start), which
the tiled kernel needs. Metadata: 2 bytes per non-zero (10%: 0.6 bytes per position).

Value and index arrays carry ``PAD`` unused trailing elements: vector loads of a row's
last, partial chunk may read past it (the kernels mask what they read there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAD = 16          # trailing elements past the last row: one 512-bit vector of float32
BITMAP_ALIGN = 64  # K padded to whole 64-bit words of mask


def _padded(flat: np.ndarray) -> np.ndarray:
    out = np.zeros(flat.size + PAD, dtype=flat.dtype)
    out[:flat.size] = flat
    return out


@dataclass(frozen=True)
class BitmapMatrix:
    values: np.ndarray   # kept values, row after row, position order (+ PAD zeros)
    rowptr: np.ndarray   # int64, M + 1: where each row's values start
    bits: np.ndarray     # uint8, M x Kp/8: bit k of row r (little-endian) = position k kept
    shape: tuple[int, int]

    @property
    def stored(self) -> int:
        return int(self.rowptr[-1])

    @property
    def padded_k(self) -> int:
        return self.bits.shape[1] * 8

    @property
    def format_bytes(self) -> int:
        """Values + mask bits + row pointers (the padding is not format)."""
        return int(self.stored * self.values.itemsize + self.bits.nbytes + self.rowptr.nbytes)


def _bitmap(values_2d: np.ndarray, keep: np.ndarray, shape: tuple[int, int]) -> BitmapMatrix:
    rows, width = keep.shape
    kp = -(-max(width, 1) // BITMAP_ALIGN) * BITMAP_ALIGN
    mask = np.zeros((rows, kp), dtype=bool)
    mask[:, :width] = keep
    rowptr = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(keep.sum(axis=1), out=rowptr[1:])
    bits = np.packbits(mask, axis=1, bitorder="little")
    return BitmapMatrix(_padded(values_2d[keep]), rowptr, bits, shape)


def bitmap_compress(weight: np.ndarray) -> BitmapMatrix:
    """Bitmap of ``weight``'s non-zeros."""
    return _bitmap(weight, weight != 0, weight.shape)


def bitmap_from_nm(nm) -> BitmapMatrix:
    """Bitmap of an ``NMMatrix``'s slots: exactly n per group (explicit zeros included),
    values in the N:M order, which is position order."""
    rows = nm.shape[0]
    keep = np.zeros((rows, nm.groups * nm.m), dtype=bool)
    cols = nm.columns()
    keep[np.arange(rows)[:, None], cols] = True
    values = np.zeros(keep.shape, dtype=nm.values.dtype)
    values[np.arange(rows)[:, None], cols] = nm.values
    return _bitmap(values, keep, nm.shape)


@dataclass(frozen=True)
class CsrMatrix:
    values: np.ndarray   # non-zeros, row after row (+ PAD zeros)
    indices: np.ndarray  # their columns: uint16 when K <= 65536, else uint32 (+ PAD)
    rowptr: np.ndarray   # int64, M + 1
    shape: tuple[int, int]

    @property
    def nnz(self) -> int:
        return int(self.rowptr[-1])

    @property
    def format_bytes(self) -> int:
        item = self.values.itemsize + self.indices.itemsize
        return int(self.nnz * item + self.rowptr.nbytes)

    def k_splits(self, rows_k: int) -> np.ndarray:
        """M x (blocks + 1): offset from its row's start of the first entry at column
        >= b * rows_k (uint16 when every row fits, else int32)."""
        rows, k = self.shape
        edges = np.arange(0, k + rows_k, rows_k)[: -(-k // rows_k) + 1]
        edges[-1] = k
        cols = self.indices[: self.nnz].astype(np.int64)
        key = np.repeat(np.arange(rows, dtype=np.int64), np.diff(self.rowptr)) * (k + 1) + cols
        starts = np.searchsorted(key, np.arange(rows)[:, None] * (k + 1) + edges[None, :])
        offsets = starts - self.rowptr[:-1, None]
        dtype = np.uint16 if k < 65536 else np.int32
        return offsets.astype(dtype)


def csr_compress(weight: np.ndarray) -> CsrMatrix:
    """CSR of ``weight``'s non-zeros with narrow column indices."""
    rows, k = weight.shape
    r, c = np.nonzero(weight)
    rowptr = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=rows), out=rowptr[1:])
    index_dtype = np.uint16 if k <= 65536 else np.uint32
    return CsrMatrix(_padded(weight[r, c]), _padded(c.astype(index_dtype)), rowptr,
                     weight.shape)
