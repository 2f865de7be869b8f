"""Kernel options for the retrieval systems: defaults, types and the split build / query.

A system's YAML ``options`` hold both kinds: build options key the shared index
(``ctx.shared``), so systems that differ only in query options (a sweep of
``heap_factor``, say) share one build. ``resolve(kernel, given, spec)`` merges the
defaults and raises one line naming an unknown or mistyped option. Also ``csr_arrays``:
a query batch as the three numpy arrays numba loops take (made by ``put``, untimed).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class OptionSpec:
    """``build`` and ``query``: option name -> default (its type is the default's)."""

    def __init__(self, build: dict[str, Any], query: dict[str, Any]):
        self.build, self.query = build, query

    def resolve(self, kernel: str, given: dict[str, Any]) -> tuple[dict, dict]:
        allowed = {**self.build, **self.query}
        for name, value in given.items():
            if name not in allowed:
                raise ValueError(f"{kernel}: unknown option {name!r}; allowed: "
                                 + ", ".join(f"{k} (default {v!r})" for k, v in allowed.items()))
            want = type(allowed[name])
            ok = isinstance(value, want) or (want is float and isinstance(value, int))
            if not ok or isinstance(value, bool) != isinstance(allowed[name], bool):
                raise ValueError(f"{kernel}: option {name}={value!r}; allowed: a {want.__name__}")
        build = {k: type(v)(given.get(k, v)) for k, v in self.build.items()}
        query = {k: type(v)(given.get(k, v)) for k, v in self.query.items()}
        return build, query


def build_key(kernel: str, build: dict[str, Any]) -> tuple:
    return (kernel, *sorted(build.items()))


def csr_arrays(batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = batch.matrix
    return (m.indptr.astype(np.int64), m.indices.astype(np.int32),
            m.data.astype(np.float32))
