"""What a workload family declares: typed parameters, accuracy metrics with a direction, baselines.

A family registers one ``FamilySpec`` (``suite.registry.register_family``). Its parameters
are typed ``Param`` objects, so the harness rejects unknown keys, merges defaults and runs
validators once (``FamilySpec.instantiate``) before the family's ``build`` sees them::

    PARAMS = {
        "docs": Param(int, 10_000, "documents in the collection", at_least(1)),
        "budget": Param(int, 100, "postings visited per query", at_least(1), query=True),
    }
    register_family(FamilySpec(
        name="retrieval", build=build, params=PARAMS, baseline_kernel="exact",
        accuracy=(AccuracyMetric("recall@10", higher_is_better=True, low=0.0, high=1.0),)))

``query=True`` marks a query-time knob: instances that differ only in query parameters share
one build (inputs, references of the build, kernels' cached artifacts) and one timing of the
dense baseline. A family whose reference is the dense system's own output on the device
(dense-model perplexity) sets ``reference="baseline"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from suite.errors import ParamError

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from suite.workload import WorkloadInstance

REQUIRED = object()  # a Param default meaning "the grid must give it"
REFERENCE_MODES = ("exact", "baseline")


@dataclass(frozen=True)
class Param:
    """One grid parameter: its type(s), default, help text and an optional validator.

    ``validate(value)`` returns the normalised value or raises ``ValueError`` whose text
    says what is allowed; ``query=True`` marks a query-time parameter (see module doc).
    """

    type: type | tuple[type, ...]
    default: Any = REQUIRED
    help: str = ""
    validate: Callable[[Any], Any] | None = None
    query: bool = False

    def resolve(self, name: str, value: Any) -> Any:
        kinds = self.type if isinstance(self.type, tuple) else (self.type,)
        if not _is_instance(value, kinds):
            raise ParamError(name, value, self.help or " or ".join(k.__name__ for k in kinds))
        if self.validate is None:
            return value
        try:
            return self.validate(value)
        except (ValueError, TypeError) as exc:
            raise ParamError(name, value, str(exc) or self.help) from None


def _is_instance(value: Any, kinds: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in kinds:
        return False
    if float in kinds and isinstance(value, int):
        return True
    if isinstance(value, float) and not math.isfinite(value) and float in kinds:
        return False
    return isinstance(value, kinds)


def at_least(low: float) -> Callable[[Any], Any]:
    """A validator: ``value >= low``."""

    def check(value):
        if value < low:
            raise ValueError(f"a number >= {low}")
        return value

    return check


def one_of(*choices: Any) -> Callable[[Any], Any]:
    """A validator: ``value`` is one of ``choices``."""

    def check(value):
        if value not in choices:
            raise ValueError("one of " + ", ".join(map(str, choices)))
        return value

    return check


@dataclass(frozen=True)
class AccuracyMetric:
    """A quality metric: its name in ``Check.accuracy``, direction and range.

    Tables, the leaderboard and the radar read these, never a fixed "lower is better".
    ``low``/``high``: the metric's range (None: unbounded on that side).
    """

    name: str
    higher_is_better: bool = False
    low: float | None = 0.0
    high: float | None = None
    description: str = ""

    @property
    def direction(self) -> str:
        return "higher" if self.higher_is_better else "lower"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "direction": self.direction, "low": self.low,
                "high": self.high}


@dataclass(frozen=True)
class FamilySpec:
    """A workload family.

    ``build(params, seed)`` makes a ``WorkloadInstance`` from one grid point. With typed
    ``params`` (name -> ``Param``) the harness has already rejected unknown keys, merged
    defaults and validated each value; with plain-text ``params`` (name -> help, the v1
    contract) ``build`` validates by itself. ``baseline_kernel`` is the dense kernel every
    device compares against; ``rank_baseline_kernel`` (optional) a second reference the
    tables also show a ratio against (MoE: the per-expert loop users run today).
    ``accuracy`` lists the quality metrics, the first is the one tables show.
    ``timed_scope`` says what a timed call covers (shown in ``cap.md``).
    ``plot(frame, out_dir)`` draws the family's PNGs.
    """

    name: str
    build: Callable[[dict[str, Any], int], WorkloadInstance]
    params: dict[str, Any]
    baseline_kernel: str
    accuracy_metric: str = ""
    accuracy_higher_is_better: bool = False
    description: str = ""
    plot: Callable[[pd.DataFrame, Path], list[Path]] | None = None
    accuracy: tuple[AccuracyMetric, ...] = ()
    reference: str = "exact"
    rank_baseline_kernel: str | None = None
    timed_scope: str = ""
    scenarios: tuple[str, ...] = ("batch",)
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if not self.accuracy and not self.accuracy_metric:
            raise ValueError(f"family {self.name!r}: give accuracy=(AccuracyMetric(...),)")
        if not self.accuracy:  # v1 families: one metric name and a flag
            object.__setattr__(self, "accuracy", (AccuracyMetric(
                self.accuracy_metric, self.accuracy_higher_is_better, low=None),))
        object.__setattr__(self, "accuracy_metric", self.accuracy[0].name)
        object.__setattr__(self, "accuracy_higher_is_better", self.accuracy[0].higher_is_better)
        if self.reference not in REFERENCE_MODES:
            raise ValueError(f"family {self.name!r}: reference {self.reference!r}; "
                             f"allowed: {', '.join(REFERENCE_MODES)}")

    @property
    def primary_metric(self) -> AccuracyMetric:
        return self.accuracy[0]

    @property
    def typed(self) -> bool:
        return bool(self.params) and all(isinstance(p, Param) for p in self.params.values())

    @property
    def query_params(self) -> frozenset[str]:
        return frozenset(k for k, p in self.params.items() if isinstance(p, Param) and p.query)

    def param_help(self) -> dict[str, str]:
        """name -> one line for ``--list``: help, default and whether it is a query knob."""
        out = {}
        for name, p in self.params.items():
            if not isinstance(p, Param):
                out[name] = str(p)
                continue
            default = "required" if p.default is REQUIRED else f"default {p.default!r}"
            out[name] = f"{p.help}; {default}" + ("; query-time" if p.query else "")
        return out

    def instantiate(self, params: dict[str, Any], seed: int) -> WorkloadInstance:
        """Validate one grid point (``ParamError`` names the field) and build the instance."""
        if not self.typed:
            return self.build(params, seed)
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise ParamError(unknown[0], params[unknown[0]],
                             f"parameters {', '.join(self.params)}")
        full = {}
        for name, p in self.params.items():
            if name in params:
                full[name] = p.resolve(name, params[name])
            elif p.default is REQUIRED:
                raise ParamError(name, None, (p.help or name) + " (required)")
            else:
                full[name] = p.default
        return self.build(full, seed)
