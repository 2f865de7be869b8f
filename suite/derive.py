"""From a measured ``Outcome`` to a ``ResultRecord``: summaries, speedups, roofline, CAP.

Each ratio gets a bootstrap interval over paired rounds (``suite.uncertainty``), each
timed row the spread of its samples and its baseline's and a first verdict
(``suite.noise.judge``; the runner adds what other processes did meanwhile).
Main entry: ``make_record(outcome, work, baselines, peaks, context) -> ResultRecord``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from suite import metrics, noise, uncertainty
from suite.devices import Peaks
from suite.environment import now_iso
from suite.measure import Outcome
from suite.prices import price_per_hour
from suite.records import ResultRecord
from suite.registry import get_family
from suite.workload import Work


@dataclass(frozen=True)
class RunContext:
    """What every record of a run shares."""

    run_id: str
    suite: str
    env_id: str
    config_hash: str
    git_commit: str
    prices: dict[str, float]
    segment: int = 0


@dataclass(frozen=True)
class Baselines:
    """The outcomes a row's ratios are taken against: the dense baseline and, where the
    family names one, the rank baseline (MoE: the per-expert loop)."""

    dense: Outcome | None = None
    rank: Outcome | None = None


def make_record(outcome: Outcome, work: Work, baselines: Baselines, peaks: Peaks | None,
                ctx: RunContext, *, scenario: str = "batch", samples_requested: int = 1,
                build_key: str = "", timed_with: str = "") -> ResultRecord:
    record = _identity(outcome, work, ctx)
    record.scenario, record.build_key, record.timed_with = scenario, build_key, timed_with
    record.samples_requested = samples_requested
    record.flags = list(outcome.flags)
    _build(record, outcome)
    if outcome.check is not None:
        record.valid = outcome.check.valid
        record.checks = _plain(outcome.check.checks)
        record.accuracy = _plain(outcome.check.accuracy)
    if outcome.status != "ok" or not outcome.samples_s:
        if outcome.status == "ok":
            record.status, record.reason = "failed", "no timing samples"
        return record
    _timing(record, outcome, baselines, ctx)
    if outcome.prepared is not None and outcome.prepared.overhead_only:
        record.extra["overhead_only"] = True
        record.speedup = record.speedup_vs_rank_baseline = None  # doing nothing fast is no win
        return record
    _performance(record, outcome, peaks)
    _cost(record, outcome, ctx)
    record.verdict, record.verdict_reasons = noise.judge(record)
    return record


def _identity(outcome: Outcome, work: Work, ctx: RunContext) -> ResultRecord:
    system, instance = outcome.system, outcome.instance
    family = get_family(instance.family)
    metric = family.primary_metric
    return ResultRecord(
        run_id=ctx.run_id, suite=ctx.suite, family=instance.family,
        instance_id=instance.instance_id, instance_label=instance.label,
        params=dict(instance.params), system=system.system_id, device=system.device.name,
        kernel=system.spec.name, options=dict(system.entry.options),
        is_baseline=system.is_baseline, status=outcome.status, reason=outcome.reason,
        flops_dense=work.flops_dense, flops_useful=work.flops_useful,
        bytes_format=work.bytes_min, bytes_activated=work.bytes_min,
        units=work.units, unit_name=work.unit_name,
        accuracy_metric=metric.name, accuracy_direction=metric.direction,
        accuracy_range=[metric.low, metric.high],
        accuracy_metrics={m.name: {k: v for k, v in m.as_dict().items() if k != "name"}
                          for m in family.accuracy},
        timed_scope=family.timed_scope, segment=ctx.segment,
        env_id=ctx.env_id, config_hash=ctx.config_hash, git_commit=ctx.git_commit,
        timestamp=now_iso())


def _build(record: ResultRecord, outcome: Outcome) -> None:
    """Prepare time, and the shared artifacts it used (built now or for an earlier row)."""
    record.prepare_s = outcome.prepare_s
    uses = outcome.uses
    prepared = outcome.prepared
    if uses:
        record.build_s = sum(u.build_s for u in uses)
        sizes = [u.nbytes for u in uses if u.nbytes is not None]
        record.artifact_bytes = int(sum(sizes)) if sizes else None
        record.artifact_shared = all(u.shared for u in uses)
    if prepared is not None:
        if prepared.artifact_bytes is not None:
            record.artifact_bytes = int(prepared.artifact_bytes) + (record.artifact_bytes or 0)
        record.semantics = _plain(prepared.semantics)


def _timing(record: ResultRecord, outcome: Outcome, baselines: Baselines,
            ctx: RunContext) -> None:
    summary = metrics.summarize(outcome.samples_s)
    record.samples_s = list(outcome.samples_s)
    record.calls_per_sample = outcome.calls_per_sample
    record.percentile_basis = ("per_call" if outcome.calls_per_sample == 1 else "per_sample")
    for key in ("median_s", "p10_s", "p50_s", "p90_s", "p99_s", "iqr_s"):
        setattr(record, key, summary[key])
    dense = baselines.dense
    if dense is not None and dense.status == "ok" and dense.samples_s:
        samples = (outcome.baseline_samples_s if outcome.baseline_samples_s
                   else dense.samples_s)
        record.baseline_system = dense.system.system_id
        record.baseline_samples_s = list(samples)
        record.baseline_segment = ctx.segment
        record.baseline_median_s = metrics.summarize(samples)["median_s"]
        record.speedup = metrics.speedup(record.baseline_median_s, record.median_s)
        record.speedup_ci = _interval(samples, record.samples_s)
        record.noise["baseline_spread"] = _spread(record, samples, dense.rotation)
    elif dense is not None:
        record.baseline_system = dense.system.system_id
        record.extra["speedup_missing"] = f"baseline {dense.status}: {dense.reason}"
    rank = baselines.rank
    if rank is not None and rank.status == "ok" and rank.samples_s:
        record.rank_baseline_system = rank.system.system_id
        rank_median = metrics.summarize(rank.samples_s)["median_s"]
        record.speedup_vs_rank_baseline = metrics.speedup(rank_median, record.median_s)
        record.rank_baseline_samples_s = list(rank.samples_s)
        record.speedup_vs_rank_baseline_ci = _interval(rank.samples_s, record.samples_s)
    record.ci_level = uncertainty.LEVEL
    record.noise["spread"] = _spread(record, record.samples_s, outcome.rotation)
    if outcome.system.device.deterministic:
        record.noise["modelled"] = True  # a model's time: the machine's noise cannot touch it


def _spread(record: ResultRecord, samples: list[float], rotation: int) -> float | None:
    """IQR / median of the samples; per_query: of each query's repeats (``repeat_spread``),
    since different queries differ in cost by design and that is not noise."""
    if record.scenario == "per_query":
        record.noise["spread_basis"] = "per query, across its repeats"
        return uncertainty.repeat_spread(samples, rotation)
    return uncertainty.relative_spread(samples)


def _interval(baseline_s: list[float], samples_s: list[float]) -> list[float]:
    found = uncertainty.ratio_interval(baseline_s, samples_s)
    return list(found) if found else []


def _performance(record: ResultRecord, outcome: Outcome, peaks: Peaks | None) -> None:
    prepared = outcome.prepared
    assert prepared is not None and record.median_s
    t = record.median_s
    record.flops_executed = prepared.flops if prepared.flops is not None else record.flops_useful
    if prepared.bytes_min is not None:
        record.bytes_format = prepared.bytes_min
    record.gflop_per_s_useful = record.flops_useful / t / 1e9
    record.gflop_per_s_dense_equiv = record.flops_dense / t / 1e9
    record.throughput_units_per_s = record.units / t
    record.extra.update(_plain(prepared.info))
    if peaks is None:
        return
    record.peaks = peaks.as_dict()
    level, bandwidth = peaks.memory_level(record.bytes_format)
    record.roofline_floor_s = metrics.roofline_floor_s(
        record.flops_executed, record.bytes_format, peaks.flops_per_s, bandwidth)
    record.extra["roofline_memory"] = level
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
