"""From a measured ``Outcome`` to a ``ResultRecord``: summaries, speedup, roofline, CAP.

Main entry: ``make_record(outcome, instance, work, baseline, context) -> ResultRecord``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from suite import metrics
from suite.devices import Peaks
from suite.environment import now_iso
from suite.measure import Outcome
from suite.prices import price_per_hour
from suite.records import ResultRecord
from suite.registry import get_family
from suite.workload import Work, WorkloadInstance


@dataclass(frozen=True)
class RunContext:
    """What every record of a run shares."""

    run_id: str
    suite: str
    env_id: str
    config_hash: str
    git_commit: str
    prices: dict[str, float]


def make_record(outcome: Outcome, instance: WorkloadInstance, work: Work,
                baseline: Outcome | None, peaks: Peaks | None, ctx: RunContext) -> ResultRecord:
    system = outcome.system
    record = ResultRecord(
        run_id=ctx.run_id, suite=ctx.suite, family=instance.family,
        instance_id=instance.instance_id, instance_label=instance.label,
        params=dict(instance.params), system=system.system_id, device=system.device.name,
        kernel=system.spec.name, options=dict(system.entry.options),
        is_baseline=system.is_baseline, status=outcome.status, reason=outcome.reason,
        flops_dense=work.flops_dense, flops_useful=work.flops_useful, bytes_min=work.bytes_min,
        bytes_activated=work.bytes_min,
        units=work.units, unit_name=work.unit_name,
        accuracy_metric=get_family(instance.family).accuracy_metric,
        env_id=ctx.env_id, config_hash=ctx.config_hash, git_commit=ctx.git_commit,
        timestamp=now_iso())
    if outcome.check is not None:
        record.valid = outcome.check.valid
        record.checks = _plain(outcome.check.checks)
        record.accuracy = _plain(outcome.check.accuracy)
    if outcome.status != "ok" or not outcome.samples_s:
        if outcome.status == "ok":
            record.status, record.reason = "failed", "no timing samples"
        return record
    _timing(record, outcome, baseline)
    if outcome.prepared is not None and outcome.prepared.overhead_only:
        record.extra["overhead_only"] = True
        record.speedup = None  # doing nothing quickly is not a speedup
        return record
    _performance(record, outcome, peaks)
    _cost(record, outcome, ctx)
    return record


def _timing(record: ResultRecord, outcome: Outcome, baseline: Outcome | None) -> None:
    summary = metrics.summarize(outcome.samples_s)
    record.samples_s = list(outcome.samples_s)
    record.calls_per_sample = outcome.calls_per_sample
    record.median_s, record.p10_s = summary["median_s"], summary["p10_s"]
    record.p90_s, record.iqr_s = summary["p90_s"], summary["iqr_s"]
    if baseline is not None and baseline.status == "ok" and baseline.samples_s:
        record.baseline_system = baseline.system.system_id
        record.baseline_median_s = metrics.summarize(baseline.samples_s)["median_s"]
        record.speedup = metrics.speedup(record.baseline_median_s, record.median_s)
    elif baseline is not None:
        record.baseline_system = baseline.system.system_id
        record.extra["speedup_missing"] = f"baseline {baseline.status}: {baseline.reason}"


def _performance(record: ResultRecord, outcome: Outcome, peaks: Peaks | None) -> None:
    prepared = outcome.prepared
    assert prepared is not None and record.median_s
    t = record.median_s
    record.flops_executed = prepared.flops if prepared.flops is not None else record.flops_useful
    if prepared.bytes_min is not None:
        record.bytes_min = prepared.bytes_min
    record.gflops_useful = record.flops_useful / t / 1e9
    record.gflops_dense_equiv = record.flops_dense / t / 1e9
    record.throughput_units_per_s = record.units / t
    record.extra.update(_plain(prepared.info))
    if peaks is None:
        return
    record.roofline_floor_s = metrics.roofline_floor_s(
        record.flops_executed, record.bytes_min, peaks.flops_per_s, peaks.bytes_per_s)
    record.roofline_fraction = record.roofline_floor_s / t
    record.s_mfu = metrics.s_mfu(record.flops_useful, t, peaks.flops_per_s)
    record.s_mbu = metrics.s_mbu(record.bytes_activated, t, peaks.bytes_per_s)


def _cost(record: ResultRecord, outcome: Outcome, ctx: RunContext) -> None:
    assert record.median_s is not None and outcome.prepared is not None
    price = price_per_hour(outcome.system.device.price_key, ctx.prices)
    record.price_usd_per_hour = price
    if price is not None and price > 0:
        record.cost_usd_per_million_units = metrics.cost_usd_per_million_units(
            price, record.median_s, record.units)
    if outcome.prepared.energy_j is not None:
        record.energy_j = outcome.prepared.energy_j
        record.energy_j_per_unit = outcome.prepared.energy_j / record.units


def _plain(obj: Any) -> Any:
    """Numpy scalars and arrays to JSON-able Python values."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return obj
