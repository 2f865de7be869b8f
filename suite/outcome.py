"""What measuring one (instance, system) row produces, and the v1-kernel adapter.

``Row`` names what to measure, ``Outcome`` collects what happened (status, samples, the
prepared kernel, its feed, flags); ``callable_with_batch`` lets a v1 kernel (``run()``)
take the harness's batch; ``describe`` turns an exception into a one-line reason.
"""

from __future__ import annotations

import functools
import inspect
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from suite.context import BuildUse
from suite.plan import System
from suite.workload import Check, Prepared, WorkloadInstance


@dataclass(frozen=True)
class Row:
    """One (instance, system) to measure."""

    instance: WorkloadInstance
    system: System


@dataclass(eq=False)
class Outcome:
    """What measuring one row produced, before metrics are derived."""

    row: Row
    index: int = -1  # position in the group's rows (what a watchdog names)
    status: str = "ok"
    reason: str = ""
    check: Check | None = None
    prepared: Prepared | None = None
    run: Callable[[Any], Any] | None = None
    samples_s: list[float] = field(default_factory=list)
    calls_per_sample: int = 1
    one_call_s: float = 0.0
    prepare_s: float | None = None
    spent_s: float = 0.0
    uses: list[BuildUse] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    baseline_samples_s: list[float] | None = None
    feed: list[Any] | None = None   # the batches on the kernel's device (``Prepared.put``)
    rotation: int = 1  # calls rotate over this many distinct batches (per_query: the queries)
    position: int = 0
    last_output: Any = None
    last_index: int = -1
    stopped: bool = False

    @property
    def system(self) -> System:
        return self.row.system

    @property
    def instance(self) -> WorkloadInstance:
        return self.row.instance

    def fail(self, status: str, reason: str) -> None:
        self.status, self.reason, self.prepared, self.run = status, reason, None, None
        self.last_output = self.feed = None

    @property
    def active(self) -> bool:
        return self.status == "ok" and self.run is not None


def callable_with_batch(run: Callable[..., Any]) -> Callable[[Any], Any]:
    """``run`` itself when it takes the batch (v2), else a wrapper feeding it nothing (v1)."""
    try:
        params = inspect.signature(run).parameters.values()
    except (TypeError, ValueError):
        return run
    takes = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD,
                                             p.VAR_POSITIONAL)]
    if takes:
        return run
    def wrapper(batch):
        return run()

    functools.update_wrapper(wrapper, run)
    wrapper.v1 = True  # type: ignore[attr-defined]
    return wrapper


def is_v1(outcome: Outcome) -> bool:
    return getattr(outcome.run, "v1", False)


def describe(exc: BaseException) -> str:
    """Exception type, message and the innermost frame: enough to find the bug."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}{where}"
