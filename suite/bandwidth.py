"""CPU memory-bandwidth probes: an all-thread read stream, and the last-level cache's size.

One ``np.copyto`` thread (the old probe) moves ~25 GB/s of read + write bytes on the 2-vCPU
Xeon, while two threads of dense GEMV read a 1 GiB weight at ~32 GB/s: every dense decode
row came out "faster than the floor". A read stream on every core (numba ``prange``, 256
float32 accumulators per thread, so neither latency nor the loop limits it) reads ~35 GB/s
there from DRAM and ~57 GB/s from a working set that fits the last-level cache, which is
where a weight reused call after call lives, and ~110 GB/s from chunks that stay in each
core's L2 (a small layer's weight). Main entries: ``read_rate(buffers, passes, repeats)``
(bytes/s of reading every buffer) and ``cache_sizes()`` / ``llc_bytes()``.
"""

from __future__ import annotations

import glob
import os
import time

import numba as nb
import numpy as np

WIDTH = 256  # float32 accumulators per thread: 16 zmm, enough loads in flight to stream
PARTS_PER_THREAD = 4


@nb.njit(parallel=True, fastmath=True, cache=True)
def _read_rows(rows: np.ndarray, parts: np.ndarray, repeats: int) -> None:
    n_rows, n_parts = rows.shape[0], parts.shape[0]
    chunk = (n_rows + n_parts - 1) // n_parts
    for p in nb.prange(n_parts):
        acc = np.zeros(WIDTH, np.float32)
        for _ in range(repeats):  # each part re-read in place: its chunk stays in the core's L2
            for r in range(p * chunk, min(n_rows, (p + 1) * chunk)):
                for j in range(WIDTH):
                    acc[j] += rows[r, j]
        parts[p] = acc.sum()


def as_rows(buffer: np.ndarray) -> np.ndarray:
    """A contiguous buffer's whole WIDTH-float32 rows (a view; the tail is left out)."""
    flat = buffer.reshape(-1).view(np.uint8)
    usable = flat.size // (4 * WIDTH) * (4 * WIDTH)
    return flat[:usable].view(np.float32).reshape(-1, WIDTH)


def read_rate(buffers: list[np.ndarray], passes: int = 1, repeats: int = 1) -> float:
    """Bytes per second of reading every buffer ``passes`` times on all numba threads, each
    thread re-reading each of its chunks ``repeats`` times in a row (the first call compiles
    or loads the loop: call once untimed before trusting a figure)."""
    views = [as_rows(b) for b in buffers]
    parts = np.zeros(PARTS_PER_THREAD * nb.get_num_threads(), dtype=np.float32)
    start = time.perf_counter()
    for _ in range(passes):
        for rows in views:
            _read_rows(rows, parts, repeats)
    elapsed = time.perf_counter() - start
    return passes * repeats * sum(v.nbytes for v in views) / elapsed


def threads() -> int:
    return nb.get_num_threads()


def cache_sizes() -> dict[int, int]:
    """Level -> size in bytes of CPU 0's data or unified caches (Linux sysfs); {} elsewhere."""
    sizes = {}
    for folder in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*"):
        try:
            kind = open(os.path.join(folder, "type")).read().strip()
            level = int(open(os.path.join(folder, "level")).read().strip())
            size = _parse_size(open(os.path.join(folder, "size")).read().strip())
        except (OSError, ValueError):
            continue
        if kind in ("Data", "Unified") and size:
            sizes[level] = size
    return sizes


def llc_bytes() -> int | None:
    """The largest data or unified cache of CPU 0 in bytes, or None."""
    sizes = cache_sizes()
    return max(sizes.values()) if sizes else None


def _parse_size(text: str) -> int | None:
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    try:
        if text[-1:].upper() in units:
            return int(text[:-1]) * units[text[-1].upper()]
        return int(text)
    except ValueError:
        return None
