"""What a kernel gets besides the instance and inputs, and the run-scoped cache of shared builds.

A kernel that builds something expensive (an index, a pruned model, compressed weights)
builds it through ``ctx.shared`` so it is made once, untimed, and served to every instance
of the build group (instances that differ only in query-time parameters) and every
kernel that asks for the same key::

    @register_kernel("retrieval", "my-index", device="cpu")
    def my_index(instance, inputs, ctx):
        index = ctx.shared(("my-index", ctx.options.get("block", 64)),
                           lambda: build_index(inputs.docs), nbytes=lambda ix: ix.nbytes)
        budget = instance.params["budget"]                  # a query-time knob
        return Prepared(run=lambda queries: index.search(queries, budget))

The build's time and bytes go to the record of every row that used it (``build_s``,
``artifact_bytes``, ``artifact_shared``). Entries are freed when the last instance of
their build group has been measured (``scope="group"``) or at the end of the run
(``scope="run"``). Main entries: ``KernelContext``, ``ArtifactCache``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from suite.devices import Device

SCOPES = ("group", "run")


@dataclass
class Artifact:
    value: Any
    build_s: float
    nbytes: int | None
    scope_key: str
    uses: int = 0


@dataclass(frozen=True)
class BuildUse:
    """One artifact a prepare used: how long it took to build, its bytes, built now or before."""

    key: str
    build_s: float
    nbytes: int | None
    shared: bool


class ArtifactCache:
    """key -> artifact, built once per run (or per build group) and never timed."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter):
        self._items: dict[tuple[str, Hashable], Artifact] = {}
        self._clock = clock

    def get(self, scope_key: str, key: Hashable, build: Callable[[], Any],
            nbytes: Callable[[Any], int] | None = None) -> tuple[Any, BuildUse]:
        full = (scope_key, key)
        item = self._items.get(full)
        shared = item is not None
        if item is None:
            start = self._clock()
            value = build()
            elapsed = self._clock() - start
            item = Artifact(value, elapsed, _bytes_of(value, nbytes), scope_key)
            self._items[full] = item
        item.uses += 1
        return item.value, BuildUse(repr(key), item.build_s, item.nbytes, shared)

    def release(self, scope_key: str) -> int:
        """Free every artifact of one scope; returns how many were freed."""
        doomed = [k for k in self._items if k[0] == scope_key]
        for k in doomed:
            del self._items[k]
        return len(doomed)

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> list[tuple[str, Hashable]]:
        return list(self._items)


def _bytes_of(value: Any, nbytes: Callable[[Any], int] | None) -> int | None:
    if nbytes is not None:
        return int(nbytes(value))
    size = getattr(value, "nbytes", None)
    return int(size) if isinstance(size, (int, float)) else None


@dataclass(frozen=True)
class KernelContext:
    """A kernel's device, YAML options, the run's shared-build cache and reference lookup.

    ``reference(batch)`` gives the cached exact answer of a batch (the null system returns
    it); ``build_key`` names the build group; ``uses`` collects the artifacts this prepare
    used (the harness reads it for the record).
    """

    device: Device
    options: dict[str, Any] = field(default_factory=dict)
    cache: ArtifactCache | None = None
    build_key: str = ""
    reference: Callable[[Any], Any] | None = None
    uses: list[BuildUse] = field(default_factory=list)

    def shared(self, key: Hashable, build: Callable[[], Any],
               nbytes: Callable[[Any], int] | None = None, scope: str = "group") -> Any:
        """The artifact under ``key``, built now (untimed) unless an earlier prepare built it."""
        if scope not in SCOPES:
            raise ValueError(f"scope {scope!r}; allowed: {', '.join(SCOPES)}")
        if self.cache is None:  # a kernel prepared outside the harness (tests, benches)
            start = time.perf_counter()
            value = build()
            self.uses.append(BuildUse(repr(key), time.perf_counter() - start,
                                      _bytes_of(value, nbytes), False))
            return value
        scope_key = self.build_key if scope == "group" else "(run)"
        value, use = self.cache.get(scope_key, (self.device.name, key), build, nbytes)
        self.uses.append(use)
        return value
