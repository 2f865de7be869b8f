"""Where the data layer keeps what it fetched and what it derived, and the derived-array cache.

``cache_root()`` is ``$SPARSECAP_CACHE`` or, by default, the user's cache directory
(``platformdirs.user_cache_dir("sparsecap")``; ``$XDG_CACHE_HOME/sparsecap`` or
``~/.cache/sparsecap`` where platformdirs is absent). Under it: ``artifacts/<name>-<version>/``
(unpacked package members, see ``suite.data.fetch``) and ``derived/<kind>/<key>.npz``.

``derived(kind, key, build)`` returns a dict of numpy arrays made by ``build()`` once and
kept on disk under a hash of ``key`` and ``CODE_VERSION``, so a second run (or a second
process) loads it instead of recomputing: captured Q/K/V, layer inputs, encoded passages.
Bump ``CODE_VERSION`` when a change alters what any builder computes.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from suite.workload import stable_hash

CACHE_ENV = "SPARSECAP_CACHE"
CODE_VERSION = "data-1"


def cache_root() -> Path:
    """The cache folder (not created here)."""
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    try:
        from platformdirs import user_cache_dir
    except ImportError:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "sparsecap"
    return Path(user_cache_dir("sparsecap", appauthor=False))


def artifacts_root() -> Path:
    return cache_root() / "artifacts"


def derived_path(kind: str, key: dict[str, Any]) -> Path:
    """The file ``derived`` reads and writes for ``key`` (with the code version in the hash)."""
    digest = stable_hash({"key": key, "code": CODE_VERSION}, length=20)
    return cache_root() / "derived" / kind / f"{digest}.npz"


def derived(kind: str, key: dict[str, Any],
            build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``build()``'s arrays, from disk when an earlier call with the same key saved them."""
    path = derived_path(kind, key)
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except (OSError, ValueError):  # a torn or foreign file: rebuild it
            path.unlink(missing_ok=True)
    arrays = build()
    _save(path, arrays, key)
    return arrays


def _save(path: Path, arrays: dict[str, np.ndarray], key: dict[str, Any]) -> None:
    """Write atomically (temporary file, then rename) with the key beside it, readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the cache from the user's group
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    text = json.dumps({"key": key, "code": CODE_VERSION}, sort_keys=True, default=str)
    path.with_suffix(".json").write_text(text + "\n")


def folder_bytes(path: Path) -> int:
    """Total bytes of the files under ``path`` (0 when it does not exist)."""
    if not path.exists():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
