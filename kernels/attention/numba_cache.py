"""Keep numba's on-disk cache of the attention kernels consistent across edits.

numba keys a cached function on its own file's modification time only: when a helper in
another module changes (``cpu_blocks`` under ``cpu_dense``), the caller's cached machine
code is reused with the old helper inlined. ``refresh()`` (run by ``cpu_tiles`` on
import, before any kernel is compiled or loaded) hashes the sources of every numba module
of this package and, when the hash differs from the one recorded beside the cache,
deletes the package's cached ``.nbi``/``.nbc`` files, so they are rebuilt once.
Main entry: ``refresh() -> bool`` (True when it cleared the cache).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

MODULES = ("cpu_tiles", "cpu_blocks", "cpu_dense", "cpu_block_sparse", "cpu_lists",
           "cpu_topk")
STAMP = "attention-kernels.sha256"


def sources_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in MODULES:
        path = folder / f"{name}.py"
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()


def refresh(folder: Path | None = None) -> bool:
    folder = folder or Path(__file__).resolve().parent
    cache = folder / "__pycache__"
    current = sources_hash(folder)
    stamp = cache / STAMP
    try:
        if stamp.exists() and stamp.read_text().strip() == current:
            return False
        cache.mkdir(exist_ok=True)
        for pattern in ("*.nbi", "*.nbc"):
            for path in cache.glob(pattern):
                path.unlink(missing_ok=True)
        stamp.write_text(current + "\n")
    except OSError:  # a read-only install: numba falls back to its own rules
        return False
    return True
