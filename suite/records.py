"""Result records: one row per (instance, system), appended to ``records.jsonl`` as it finishes.

Records keep the raw timing samples (metrics can be recomputed later), a ``schema_version``,
``status`` (ok / failed / skipped) with its ``reason``, ``valid`` with the checks behind it,
and the run's environment id, config hash and git commit. Main entries: ``ResultRecord``,
``RecordWriter`` (append, flush, fsync) and ``read_records`` (tolerates a torn last line).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
STATUSES = ("ok", "failed", "skipped")


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
    valid: bool | None = None
    checks: dict[str, Any] = field(default_factory=dict)
    # timing (seconds per call)
    samples_s: list[float] = field(default_factory=list)
    calls_per_sample: int = 1
    median_s: float | None = None
    p10_s: float | None = None
    p90_s: float | None = None
    iqr_s: float | None = None
    baseline_system: str = ""
    baseline_median_s: float | None = None
    speedup: float | None = None
    # work and performance
    flops_dense: float | None = None
    flops_useful: float | None = None
    flops_executed: float | None = None
    bytes_min: float | None = None        # the kernel's own format (roofline)
    bytes_activated: float | None = None  # the activated data only (S-MBU)
    units: float | None = None
    unit_name: str = ""
    gflops_useful: float | None = None
    gflops_dense_equiv: float | None = None
    throughput_units_per_s: float | None = None
    roofline_floor_s: float | None = None
    roofline_fraction: float | None = None
    s_mfu: float | None = None
    s_mbu: float | None = None
    # accuracy, cost, energy
    accuracy: dict[str, float] = field(default_factory=dict)
    accuracy_metric: str = ""
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
    def from_dict(cls, raw: dict[str, Any]) -> ResultRecord:
        known = {f.name for f in fields(cls)}
        version = raw.get("schema_version", 0)
        if version > SCHEMA_VERSION:
            raise ValueError(f"record schema_version {version} is newer than this "
                             f"SparseCAP ({SCHEMA_VERSION}); upgrade to read it")
        return cls(**{k: v for k, v in raw.items() if k in known})


class RecordWriter:
    """Appends records one line each; flushed and fsynced so a killed run loses nothing."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        _drop_torn_tail(path)

    def append(self, record: ResultRecord) -> None:
        assert record.status in STATUSES, record.status
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(record.to_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def read_records(path: Path) -> list[ResultRecord]:
    """All complete records in a file; a torn last line (a killed write) is ignored."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError:
            continue
        out.append(ResultRecord.from_dict(raw))
    return out


def done_keys(path: Path) -> set[tuple[str, str]]:
    """Rows a resumed run need not redo: any finished status (ok, failed or skipped)."""
    return {r.key for r in read_records(path)}


def _drop_torn_tail(path: Path) -> None:
    """A run killed mid-write leaves a partial last line; cut it before appending."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


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

