"""What-if sweeps: every combination of some config values, simulated in parallel with Dask.

Entry points::

    points = expand_sweep({"rows": [16, 32, 64], "nm": ["2:4", "1:4", "dense"]}, base_cfg)
    rows = run_sweep(points, layers, out_dir, scheduler=None, workers=2)

A sweep key is a ``HardwareConfig`` field (``rows``, ``cols``, ``dataflow``, ``clock_ghz``,
``dram_bandwidth_bytes_per_cycle``, ``ifmap_sram_kib``, ``tech_node_nm``, ...), ``array``
(``32x32`` sets rows and cols), and two separate sparsity axes:

* ``nm``: the *weights'* pattern (``2:4``; ``dense`` = unpruned weights). It never changes
  the hardware: weights the PEs cannot skip run as the hardware allows (a covering
  supported pattern, or dense).
* ``hw_sparsity``: the *hardware's* supported patterns: ``dense``, ``2:4``, ``2:4+1:4``
  (fixed patterns) or ``flexible-8`` (any N:M with M <= 8); ``metadata_bits`` grows to
  index the largest M.

Every result row carries both (``weights_nm``, ``hw_sparsity``), swept or not, and its
area (``simulators.area``). Results stream, one JSON line per config as it arrives, to
``<out>/sweep.jsonl``; then ``sweep.csv``, ``sweep.md``, PNG plots and the Pareto front
are written (``simulators.sweep_report``). Scheduler: a fresh Dask LocalCluster (default),
a running cluster's address, or ``synchronous`` (this process, no Dask). Each config takes
well under a millisecond per unique layer, so configs go in batches.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from simulators.area import area_breakdown_mm2
from simulators.hw_config import HardwareConfig, parse_nm
from simulators.systolic import SystolicArray
from simulators.topology import Layer, summarize_topology
from suite.errors import UserError

_FIELD_TYPES = {f.name: f.type for f in fields(HardwareConfig)
                if f.name not in ("name", "sparsity", "energy")}
SWEEP_KEYS = ("array", "nm", "hw_sparsity", *_FIELD_TYPES)


@dataclass(frozen=True)
class SweepPoint:
    """One configuration of a sweep: its label, swept values, hardware and weight pattern."""

    label: str
    values: dict[str, Any]
    cfg: HardwareConfig
    nm: tuple[int, int] | None

    @property
    def labels(self) -> dict[str, str]:
        """Both sparsity axes, in sweep notation, whether swept or not."""
        return {"weights_nm": "dense" if self.nm is None else f"{self.nm[0]}:{self.nm[1]}",
                "hw_sparsity": support_label(self.cfg)}


def support_label(cfg: HardwareConfig) -> str:
    """``dense``, ``2:4+1:4`` or ``flexible-8``: the ``hw_sparsity`` value of a config."""
    support = cfg.sparsity
    if support.mode == "fixed":
        return "+".join(f"{n}:{m}" for n, m in support.patterns)
    return f"flexible-{support.max_m}" if support.mode == "flexible" else "dense"


def parse_support(text: Any) -> dict[str, Any]:
    """``dense`` | ``2:4+1:4`` | ``flexible-8`` -> a ``sparsity`` mapping for the config."""
    value = str(text).strip()
    if value == "dense":
        return {"mode": "dense"}
    if value.startswith("flexible-"):
        max_m = value.removeprefix("flexible-")
        if not max_m.isdigit():
            raise UserError(f"sweep hw_sparsity: got {value!r}; allowed: flexible-M, M 2..16")
        return {"mode": "flexible", "max_m": int(max_m)}
    patterns = [parse_nm(part, "sweep hw_sparsity") for part in value.split("+")]
    return {"mode": "fixed", "patterns": [f"{n}:{m}" for n, m in patterns]}


def parse_sweep_args(items: list[str]) -> dict[str, list[str]]:
    """``["rows=16,32", "nm=2:4,dense"]`` -> ``{"rows": ["16", "32"], ...}``."""
    spec: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not values or key not in SWEEP_KEYS:
            raise UserError(f"--sweep {item!r}: expected KEY=V1,V2,...; allowed keys: "
                            + ", ".join(SWEEP_KEYS))
        spec[key] = [v.strip() for v in values.split(",") if v.strip()]
    return spec


def expand_sweep(spec: dict[str, list[Any]], base: HardwareConfig,
                 nm: tuple[int, int] | None = None) -> list[SweepPoint]:
    """The cross product of ``spec`` over ``base``; each point validated like a YAML config.

    ``nm``: the weights' pattern where ``nm`` is not swept (None: dense weights).
    """
    for key, values in spec.items():
        if key not in SWEEP_KEYS:
            raise UserError(f"sweep key {key!r}; allowed: {', '.join(SWEEP_KEYS)}")
        if not isinstance(values, (list, tuple)) or not values:
            raise UserError(f"sweep {key}: got {values!r}; allowed: a non-empty list")
    keys = list(spec)
    return [_point(base, dict(zip(keys, combo, strict=True)), nm)
            for combo in itertools.product(*(spec[k] for k in keys))]


def _point(base: HardwareConfig, values: dict[str, Any],
           nm: tuple[int, int] | None) -> SweepPoint:
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key == "array":
            rows, _, cols = str(value).partition("x")
            changes.update(rows=_convert("rows", rows), cols=_convert("cols", cols or rows))
        elif key == "nm":
            nm = None if str(value) == "dense" else parse_nm(value, "sweep nm")
        elif key == "hw_sparsity":
            changes["sparsity"] = parse_support(value)
        else:
            changes[key] = _convert(key, value)
    if "sparsity" in changes:  # a swept support needs enough index bits for its largest M
        changes["metadata_bits"] = max(changes.get("metadata_bits", base.metadata_bits),
                                       _index_bits(changes["sparsity"]))
    label = " ".join(f"{k}={v}" for k, v in values.items())
    cfg = base.replace(name=f"{base.name}[{label}]", **changes)
    nm = None if nm is not None and nm[0] == nm[1] else nm
    return SweepPoint(label, {k: str(v) for k, v in values.items()}, cfg, nm)


def _index_bits(sparsity: dict[str, Any]) -> int:
    groups = [int(p.split(":")[1]) for p in sparsity.get("patterns", [])]
    largest = max(groups + [sparsity.get("max_m", 1)])
    return (largest - 1).bit_length()


def _convert(key: str, value: Any) -> Any:
    kind = _FIELD_TYPES[key]
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
    except (TypeError, ValueError):
        raise UserError(f"sweep {key}: got {value!r}; allowed: {kind} values") from None
    return str(value)


def simulate_point(point: SweepPoint, layers: list[Layer]) -> dict[str, Any]:
    """One config over the whole layer list -> one flat, JSON-able result row."""
    report = summarize_topology(SystolicArray.from_config(point.cfg), layers, nm=point.nm)
    return {"config": point.label, **point.values, **point.labels, **report.summary(),
            **{f"area_{k}": v for k, v in area_breakdown_mm2(point.cfg).items()}}


def _run_batch(points: list[SweepPoint], layers: list[Layer]) -> list[dict[str, Any]]:
    return [simulate_point(point, layers) for point in points]


def run_sweep(points: list[SweepPoint], layers: list[Layer], out_dir: Path,
              scheduler: str | None = None, workers: int | None = None,
              base: HardwareConfig | None = None, title: str = "") -> list[dict[str, Any]]:
    """Simulate every point, appending each result to ``out_dir/sweep.jsonl`` as it arrives.

    ``base`` (default: the first point's hardware) run with dense weights is the reference
    of ``speedup_vs_base`` and ``energy_vs_base``, the axes of the Pareto front.
    """
    from simulators.sweep_report import write_reports

    out_dir.mkdir(parents=True, exist_ok=True)
    base = base or (points[0].cfg if points else HardwareConfig())
    reference = summarize_topology(SystolicArray.from_config(base), layers,
                                   compare_dense=False)
    results: list[dict[str, Any]] = []
    with (out_dir / "sweep.jsonl").open("a") as sink:
        for batch in _results(points, layers, scheduler, workers):
            for row in batch:
                row["speedup_vs_base"] = reference.time_s / row["time_s"]
                row["energy_vs_base"] = row["energy_j"] / reference.energy_j
                sink.write(json.dumps(row) + "\n")
                results.append(row)
            sink.flush()
    keys = list(points[0].values) if points else []
    write_reports(results, keys, out_dir, title, base_label=f"{base.name} (dense weights)")
    return results


def _batches(points: list[SweepPoint], workers: int) -> list[list[SweepPoint]]:
    size = max(1, min(200, -(-len(points) // (4 * workers))))
    return [points[i:i + size] for i in range(0, len(points), size)]


def _results(points, layers, scheduler, workers):
    """Batches of result rows, in completion order."""
    if scheduler == "synchronous":
        for batch in _batches(points, 1):
            yield _run_batch(batch, layers)
        return
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1,
                               dashboard_address=None, processes=True)
    try:
        with Client(cluster if cluster is not None else scheduler) as client:
            n_workers = workers or max(1, len(client.scheduler_info()["workers"]))
            remote_layers = client.scatter(layers, broadcast=True)
            futures = [client.submit(_run_batch, batch, remote_layers, pure=False)
                       for batch in _batches(points, n_workers)]
            for future in as_completed(futures):
                yield future.result()
    finally:
        if cluster is not None:
            cluster.close()
