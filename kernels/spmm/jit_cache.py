"""numba's on-disk cache, invalidated by any change to this package, not just the one file.

numba keys a cached function by its own source file only. Our jitted loops call intrinsics
defined in other modules (``micro_tile``, ``llvm_vec``), so an edit there would silently
reuse stale machine code. ``install()`` (called by every module here that jits, before its
decorators run) puts a locator first in numba's list that, for functions in this folder,
stamps the cache with a hash of every ``.py`` file in it. It uses numba's internal
``CacheImpl._locator_classes``; where that is missing, numba's own per-file key stays.
"""

from __future__ import annotations

import functools
import hashlib
import os

from numba.core import caching, config

HERE = os.path.dirname(os.path.abspath(__file__))


@functools.lru_cache(maxsize=8)
def _folder_hash(stamps: tuple) -> bytes:
    digest = hashlib.sha256()
    for name, _, _ in stamps:
        with open(os.path.join(HERE, name), "rb") as f:
            digest.update(name.encode() + f.read())
    return digest.digest()


def package_stamp() -> bytes:
    names = sorted(n for n in os.listdir(HERE) if n.endswith(".py"))
    stats = [os.stat(os.path.join(HERE, n)) for n in names]
    return _folder_hash(tuple((n, s.st_mtime_ns, s.st_size) for n, s in zip(names, stats,
                                                                          strict=True)))


class PackageLocator(caching.InTreeCacheLocator):
    """The cache of functions of this folder (in ``__pycache__``, or under
    ``NUMBA_CACHE_DIR`` when set, as numba does), stamped by the whole folder."""

    def __init__(self, py_func, py_file):
        super().__init__(py_func, py_file)
        if config.CACHE_DIR:
            self._cache_path = os.path.join(config.CACHE_DIR,
                                            self.get_suitable_cache_subpath(py_file))

    def get_source_stamp(self):
        return package_stamp()

    @classmethod
    def from_function(cls, py_func, py_file):
        if os.path.dirname(os.path.abspath(py_file)) != HERE:
            return None
        return super().from_function(py_func, py_file)


def install() -> bool:
    """Put ``PackageLocator`` first in numba's locators; False where numba has no such list."""
    classes = getattr(getattr(caching, "CacheImpl", None), "_locator_classes", None)
    if classes is None:
        return False
    if PackageLocator not in classes:
        classes.insert(0, PackageLocator)
    return True
