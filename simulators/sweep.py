"""What-if sweeps: every combination of some config values, simulated in parallel with Dask.

Entry points::

    points = expand_sweep({"rows": [16, 32, 64], "nm": ["2:4", "1:4", "dense"]}, base_cfg)
    rows = run_sweep(points, layers, out_dir, scheduler=None, workers=2)

A sweep key is a ``HardwareConfig`` field (``rows``, ``cols``, ``dataflow``, ``clock_ghz``,
``dram_bandwidth_bytes_per_cycle``, ``ifmap_sram_kib``, ...), ``array`` (``32x32`` sets rows
and cols) or ``nm``: the weights' pattern (``2:4``; ``dense`` = unpruned weights). A point
whose hardware cannot skip that pattern gets ``sparsity: fixed [N:M]`` added, so ``nm``
asks "what if the weights were N:M and the PEs exploited it". Results stream, one JSON line
per config as it arrives, to ``<out>/sweep.jsonl``; then ``sweep.csv``, ``sweep.md`` and
PNG plots are written (``simulators.sweep_report``). Scheduler: a fresh Dask LocalCluster
(default), a running cluster's address, or ``synchronous`` (this process, no Dask).
Each config takes well under a millisecond per unique layer, so configs go in batches.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from simulators.hw_config import HardwareConfig, parse_nm
from simulators.systolic import SystolicArray
from simulators.topology import Layer, simulate_topology
from suite.errors import UserError

_FIELD_TYPES = {f.name: f.type for f in fields(HardwareConfig)
                if f.name not in ("name", "sparsity", "energy")}
SWEEP_KEYS = ("array", "nm", *_FIELD_TYPES)


@dataclass(frozen=True)
class SweepPoint:
    """One configuration of a sweep: its label, swept values, hardware and weight pattern."""

    label: str
    values: dict[str, Any]
    cfg: HardwareConfig
    nm: tuple[int, int] | None


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


def expand_sweep(spec: dict[str, list[Any]], base: HardwareConfig) -> list[SweepPoint]:
    """The cross product of ``spec`` over ``base``; each point validated like a YAML config."""
    for key, values in spec.items():
        if key not in SWEEP_KEYS:
            raise UserError(f"sweep key {key!r}; allowed: {', '.join(SWEEP_KEYS)}")
        if not isinstance(values, (list, tuple)) or not values:
            raise UserError(f"sweep {key}: got {values!r}; allowed: a non-empty list")
    keys = list(spec)
    return [_point(base, dict(zip(keys, combo, strict=True)))
            for combo in itertools.product(*(spec[k] for k in keys))]


def _point(base: HardwareConfig, values: dict[str, Any]) -> SweepPoint:
    changes: dict[str, Any] = {}
    nm = None
    for key, value in values.items():
        if key == "array":
            rows, _, cols = str(value).partition("x")
            changes.update(rows=_convert("rows", rows), cols=_convert("cols", cols or rows))
        elif key == "nm":
            nm = None if str(value) == "dense" else parse_nm(value, "sweep nm")
        else:
            changes[key] = _convert(key, value)
    label = " ".join(f"{k}={v}" for k, v in values.items())
    cfg = base.replace(name=f"{base.name}[{label}]", **changes)
    if nm and nm[0] < nm[1] and not _supports(cfg, nm):
        cfg = cfg.replace(sparsity={"mode": "fixed", "patterns": [f"{nm[0]}:{nm[1]}"]},
                          metadata_bits=max(cfg.metadata_bits, (nm[1] - 1).bit_length()))
    return SweepPoint(label, {k: str(v) for k, v in values.items()}, cfg, nm)


def _supports(cfg: HardwareConfig, nm: tuple[int, int]) -> bool:
    support = cfg.sparsity
    return nm in support.patterns or (support.mode == "flexible" and nm[1] <= support.max_m)


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
    report = simulate_topology(SystolicArray.from_config(point.cfg), layers, nm=point.nm)
    return {"config": point.label, **point.values, **report.summary()}


def _run_batch(points: list[SweepPoint], layers: list[Layer]) -> list[dict[str, Any]]:
    return [simulate_point(point, layers) for point in points]


def run_sweep(points: list[SweepPoint], layers: list[Layer], out_dir: Path,
              scheduler: str | None = None, workers: int | None = None) -> list[dict[str, Any]]:
    """Simulate every point, appending each result to ``out_dir/sweep.jsonl`` as it arrives."""
    from simulators.sweep_report import write_reports

    out_dir.mkdir(parents=True, exist_ok=True)
    jsonl = out_dir / "sweep.jsonl"
    results: list[dict[str, Any]] = []
    with jsonl.open("a") as sink:
        for batch in _results(points, layers, scheduler, workers):
            for row in batch:
                sink.write(json.dumps(row) + "\n")
                results.append(row)
            sink.flush()
    write_reports(results, [k for k in points[0].values] if points else [], out_dir)
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
