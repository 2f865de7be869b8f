"""Result records: one row per (instance, system), appended to ``records.jsonl`` as it finishes.

Records keep the raw timing samples (metrics can be recomputed later), a ``schema_version``,
``status`` (ok / failed / skipped) with its ``reason``, ``flags`` (an ok row that is still
worth a second look), ``valid`` with the checks behind it, and the run's environment id,
config hash and git commit. Schema 2 grew, with defaults (older v2 lines still read):
speedup intervals, the row's noise evidence and MLPerf-style ``verdict`` (VALID / INVALID
with ``verdict_reasons``), ``threads_used`` and the ``peaks`` its roofline used.
Main entries: ``ResultRecord`` (``from_dict`` checks a raw row and migrates older
schemas), ``RecordWriter`` (append, flush, fsync; a full or read-only disk is a one-line
``UserError``) and ``read_records`` (a torn last line is ignored; any other damage is a
``UserError`` naming ``path:LINE``).
"""

from __future__ import annotations

import json
import math
import numbers
import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from suite.errors import UserError

SCHEMA_VERSION = 2
STATUSES = ("ok", "failed", "skipped")
RECORDS_FILE = "records.jsonl"
V1_RENAMES = {"gflops_useful": "gflop_per_s_useful",
              "gflops_dense_equiv": "gflop_per_s_dense_equiv", "bytes_min": "bytes_format"}


class RecordError(UserError, ValueError):
    """A raw row that is not a record this SparseCAP can read; the text says why."""


@dataclass
class ResultRecord:
    # identity
    run_id: str
    suite: str
    family: str
    instance_id: str
    instance_label: str
    params: dict[str, Any]
    system: str
    device: str
    kernel: str
    options: dict[str, Any]
    is_baseline: bool
    # outcome
    status: str
    reason: str = ""
    flags: list[str] = field(default_factory=list)  # an ok row to read twice, e.g. fewer samples
    valid: bool | None = None
    checks: dict[str, Any] = field(default_factory=dict)
    # what a timed call is
    scenario: str = "batch"           # "batch" | "per_query"
    timed_scope: str = ""             # e.g. "expert FFNs + combine; router excluded"
    semantics: dict[str, Any] = field(default_factory=dict)  # what the kernel declares
    segment: int = 0                  # 0 = first run, +1 per --resume
    # timing (seconds per call)
    samples_s: list[float] = field(default_factory=list)
    calls_per_sample: int = 1
    samples_requested: int | None = None
    percentile_basis: str = "per_sample"  # "per_sample" (mean of calls_per_sample) | "per_call"
    median_s: float | None = None
    p10_s: float | None = None
    p50_s: float | None = None
    p90_s: float | None = None
    p99_s: float | None = None
    iqr_s: float | None = None
    # speedup
    baseline_system: str = ""
    baseline_median_s: float | None = None
    baseline_samples_s: list[float] = field(default_factory=list)
    baseline_segment: int | None = None
    timed_with: str = ""              # instance id whose baseline timing this row shares
    speedup: float | None = None      # vs the dense baseline of the device
    rank_baseline_system: str = ""
    speedup_vs_rank_baseline: float | None = None
    rank_baseline_samples_s: list[float] = field(default_factory=list)
    # uncertainty and noise (suite.uncertainty, suite.noise): a bootstrap interval of each
    # ratio of medians over paired rounds, and the run-time evidence a row is judged on
    ci_level: float | None = None
    speedup_ci: list[float] = field(default_factory=list)  # [low, high]
    speedup_vs_rank_baseline_ci: list[float] = field(default_factory=list)
    noise: dict[str, Any] = field(default_factory=dict)  # spread, other_cpu, load_1m ...
    verdict: str = ""                 # "VALID" | "INVALID" ("" = not timed, not judged)
    verdict_reasons: list[str] = field(default_factory=list)
    threads_used: float | None = None  # busy threads (suite.cpu_use) over a few calls
    # build (untimed, cached by build_key)
    prepare_s: float | None = None
    build_s: float | None = None      # of the cached build this row used
    build_key: str = ""
    artifact_bytes: int | None = None
    artifact_shared: bool = False
    # work and performance
    flops_dense: float | None = None
    flops_useful: float | None = None
    flops_executed: float | None = None
    bytes_format: float | None = None     # the kernel's own format reads/writes (roofline)
    bytes_activated: float | None = None  # the activated data only (S-MBU)
    units: float | None = None
    unit_name: str = ""
    gflop_per_s_useful: float | None = None
    gflop_per_s_dense_equiv: float | None = None
    throughput_units_per_s: float | None = None
    roofline_floor_s: float | None = None
    roofline_fraction: float | None = None
    s_mfu: float | None = None
    s_mbu: float | None = None
    peaks: dict[str, Any] = field(default_factory=dict)  # the device peaks used above
    # accuracy
    accuracy: dict[str, float] = field(default_factory=dict)
    accuracy_metric: str = ""
    accuracy_direction: str = ""      # "higher" | "lower" ("" = not recorded)
    accuracy_range: list[float | None] = field(default_factory=list)  # [low, high]
    accuracy_metrics: dict[str, Any] = field(default_factory=dict)  # name -> direction, low, high
    # cost, energy
    price_usd_per_hour: float | None = None
    cost_usd_per_million_units: float | None = None
    energy_j: float | None = None
    energy_j_per_unit: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # provenance
    env_id: str = ""
    config_hash: str = ""
    git_commit: str = ""
    timestamp: str = ""
    schema_version: int = SCHEMA_VERSION

    @property
    def key(self) -> tuple[str, str]:
        return (self.instance_id, self.system)

    def to_json(self) -> str:
        return json.dumps(_finite(asdict(self)), sort_keys=False, default=_jsonable)

    @classmethod
    def from_dict(cls, raw: Any) -> ResultRecord:
        """A record from one parsed JSON line: checked, migrated to this schema.

        Raises ``RecordError`` (one line, no location) for a newer or unknown
        ``schema_version``, a missing required field, a wrong type or status. Fields this
        version does not know are ignored.
        """
        if not isinstance(raw, dict):
            raise RecordError(f"a record is a JSON object; got {type(raw).__name__}")
        raw = migrate(raw)
        known = {f.name: f for f in fields(cls)}
        _check_fields(raw, known)
        return cls(**{k: v for k, v in raw.items() if k in known})


def migrate(raw: dict[str, Any]) -> dict[str, Any]:
    """A raw row of any readable schema version rewritten as this version's (a new dict)."""
    version = raw.get("schema_version")
    version = 1 if version is None or (type(version) is int and version == 0) else version
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise RecordError(f"schema_version {version!r} is unknown; "
                          f"this SparseCAP reads 0 to {SCHEMA_VERSION}")
    if version > SCHEMA_VERSION:
        raise RecordError(f"schema_version {version} is newer than this SparseCAP reads "
                          f"({SCHEMA_VERSION}); upgrade SparseCAP to read it")
    out = dict(raw)
    if version == 1:
        out = _v1_to_v2(out)
    out["schema_version"] = SCHEMA_VERSION
    return out


def _v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    """Renamed fields; v1 tables read every ``*error*`` metric as lower-is-better, from 0."""
    for old, new in V1_RENAMES.items():
        if old in raw:
            value = raw.pop(old)
            raw.setdefault(new, value)
    names = [raw.get("accuracy_metric") or ""] + list(raw.get("accuracy") or {})
    errors = {name: {"direction": "lower", "low": 0.0, "high": None}
              for name in names if isinstance(name, str) and "error" in name}
    primary = raw.get("accuracy_metric")
    if primary in errors and not raw.get("accuracy_direction"):
        raw["accuracy_direction"], raw["accuracy_range"] = "lower", [0.0, None]
    if errors and not raw.get("accuracy_metrics"):
        raw["accuracy_metrics"] = errors
    return raw


def _check_fields(raw: dict[str, Any], known: dict[str, Any]) -> None:
    missing = [name for name, f in known.items() if name not in raw
               and f.default is MISSING and f.default_factory is MISSING]
    if missing:
        raise RecordError(f"missing field{'s' if len(missing) > 1 else ''} "
                          f"{', '.join(missing)}")
    for name, value in raw.items():
        if name in known and not _type_ok(known[name].type, value):
            raise RecordError(f"field {name}: got {value!r:.60}; expected {known[name].type}")
    if raw["status"] not in STATUSES:
        raise RecordError(f"status {raw['status']!r}; allowed: {', '.join(STATUSES)}")


_KINDS: dict[str, tuple[type, ...]] = {
    "str": (str,), "bool": (bool,), "int": (numbers.Real,), "float": (numbers.Real,),
    "list": (list,), "dict": (dict,), "None": (type(None),)}


def _type_ok(annotation: str, value: Any) -> bool:
    """Does a JSON value fit a field annotation such as ``float | None`` or ``list[str]``?"""
    kinds = [_KINDS[part.strip()] for part in re.sub(r"\[.*\]", "", annotation).split("|")]
    if isinstance(value, bool):
        return (bool,) in kinds
    return any(isinstance(value, kind) for kind in kinds)


def _finite(obj: Any) -> Any:
    """JSON has no NaN/Inf: store them as null so every reader can parse the file."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


# Reading and writing record files lives in suite.record_io; these names stay importable here.
from suite.record_io import RecordWriter, done_keys, read_records  # noqa: E402, F401
