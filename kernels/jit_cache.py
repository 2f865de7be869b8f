"""numba's on-disk cache, invalidated by any change to a kernel package, not just one file.

numba keys a cached function by its own source file only. Our jitted loops call helpers
and intrinsics defined in other modules of their package (``kernels/spmm/micro_tile``,
``kernels/retrieval/numba_common``...), so an edit there would silently reuse stale
machine code. ``install(__file__)`` (called by every module that jits, before its
decorators run) puts a locator (``locator_class()``) first in numba's list that, for
functions in that module's folder, stamps the cache with a hash of every ``.py`` file in
the folder. It uses numba's internal ``CacheImpl._locator_classes``; where that is
missing, numba's own per-file key stays. numba is imported only by ``install`` (the
plug-in loader imports this module wherever numba is absent too).
"""

from __future__ import annotations

import functools
import hashlib
import os

FOLDERS: set[str] = set()  # the packages whose functions get the folder-wide stamp


@functools.lru_cache(maxsize=32)
def _folder_hash(folder: str, stamps: tuple) -> bytes:
    digest = hashlib.sha256()
    for name, _, _ in stamps:
        with open(os.path.join(folder, name), "rb") as f:
            digest.update(name.encode() + f.read())
    return digest.digest()


def package_stamp(folder: str) -> bytes:
    """A hash of every ``.py`` file in ``folder`` (re-read only when one's size or mtime moves)."""
    names = sorted(n for n in os.listdir(folder) if n.endswith(".py"))
    stats = [os.stat(os.path.join(folder, n)) for n in names]
    return _folder_hash(folder, tuple((n, s.st_mtime_ns, s.st_size)
                                      for n, s in zip(names, stats, strict=True)))


@functools.lru_cache(maxsize=1)
def locator_class() -> type:
    """The locator for installed folders (a numba ``InTreeCacheLocator``): their functions'
    cache in ``__pycache__``, or under ``NUMBA_CACHE_DIR`` when set, as numba does, stamped
    by the whole folder."""
    from numba.core import caching, config

    class PackageLocator(caching.InTreeCacheLocator):
        def __init__(self, py_func, py_file):
            super().__init__(py_func, py_file)
            self._folder = os.path.dirname(os.path.abspath(py_file))
            if config.CACHE_DIR:
                self._cache_path = os.path.join(config.CACHE_DIR,
                                                self.get_suitable_cache_subpath(py_file))

        def get_source_stamp(self):
            return package_stamp(self._folder)

        @classmethod
        def from_function(cls, py_func, py_file):
            if os.path.dirname(os.path.abspath(py_file)) not in FOLDERS:
                return None
            return super().from_function(py_func, py_file)

    return PackageLocator


def install(module_file: str) -> bool:
    """Stamp the cache of every function in ``module_file``'s folder by the whole folder;
    False where numba has no locator list (its own per-file key then stays)."""
    from numba.core import caching

    FOLDERS.add(os.path.dirname(os.path.abspath(module_file)))
    classes = getattr(getattr(caching, "CacheImpl", None), "_locator_classes", None)
    if classes is None:
        return False
    locator = locator_class()
    if locator not in classes:
        classes.insert(0, locator)
    return True
