"""Run a plan: build each instance once, measure its systems device by device, write records.

Records are appended as each (instance, device) group finishes, so a killed run keeps what
it finished; ``resume=True`` skips rows already in ``records.jsonl`` (re-measuring the
baseline when a pending row needs it for its speedup, without writing it twice).
Main entry: ``run_plan(plan, config, out_dir, resume, prices, progress) -> RunSummary``.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from suite.config import SuiteConfig
from suite.derive import RunContext, make_record
from suite.devices import Device, Peaks
from suite.environment import collect_environment
from suite.measure import Outcome, describe, measure_group
from suite.plan import Plan, System
from suite.records import RecordWriter, ResultRecord, done_keys
from suite.workload import Work, WorkloadInstance

RECORDS_FILE = "records.jsonl"
ENV_FILE = "env.json"


@dataclass
class RunSummary:
    out_dir: Path
    written: list[ResultRecord] = field(default_factory=list)
    resumed_rows: int = 0

    @property
    def counts(self) -> Counter:
        return Counter(r.status for r in self.written)


class PeakCache:
    """Each device's peaks, measured once per run, the first time a device is used."""

    def __init__(self, on_measure: Callable[[str, Peaks], None]):
        self._peaks: dict[str, Peaks | None] = {}
        self._on_measure = on_measure

    def get(self, device: Device) -> Peaks | None:
        if device.name not in self._peaks:
            peaks = None
            if device.unavailable_reason() is None:
                try:
                    peaks = device.measure_peaks()
                except Exception:  # no peaks means no roofline, never a lost run
                    peaks = None
            self._peaks[device.name] = peaks
            if peaks is not None:
                self._on_measure(device.name, peaks)
        return self._peaks[device.name]


def run_plan(plan: Plan, config: SuiteConfig, out_dir: Path, resume: bool = False,
             prices: dict[str, float] | None = None,
             progress: Callable[[int], None] | None = None,
             status: Callable[[str], None] | None = None) -> RunSummary:
    out_dir.mkdir(parents=True, exist_ok=True)
    records_path = out_dir / RECORDS_FILE
    if records_path.exists() and not resume and records_path.stat().st_size > 0:
        from suite.errors import UserError
        raise UserError(f"--out: {out_dir} already holds {RECORDS_FILE}; use --resume to "
                        "continue that run, or choose another --out")
    done = done_keys(records_path) if resume else set()
    env = _write_env(plan, config, out_dir)
    ctx = RunContext(run_id=uuid.uuid4().hex[:12], suite=config.name, env_id=env["env_id"],
                     config_hash=config.config_hash, git_commit=env["git_commit"],
                     prices={**config.prices, **(prices or {})})
    peaks = PeakCache(lambda name, p: _record_peaks(out_dir, env, name, p))
    writer = RecordWriter(records_path)
    summary = RunSummary(out_dir)
    for instance in plan.instances:
        _run_instance(plan, instance, done, ctx, peaks, writer, summary, config, progress, status)
    return summary


def _run_instance(plan, instance: WorkloadInstance, done, ctx, peaks, writer, summary,
                  config, progress, status) -> None:
    groups = {name: plan.systems_for(instance, d) for name, d in plan.devices.items()}
    pending = {name: [s for s in systems if (instance.instance_id, s.system_id) not in done]
               for name, systems in groups.items()}
    skipped_rows = sum(len(groups[n]) - len(pending[n]) for n in groups)
    summary.resumed_rows += skipped_rows
    if progress and skipped_rows:
        progress(skipped_rows)
    if not any(pending.values()):
        return
    if status:
        status(instance.label)
    try:
        inputs = instance.build_inputs()
        reference = instance.reference(inputs)
        work = instance.work(inputs)
    except Exception as exc:  # e.g. out of memory: this instance's rows fail, the run goes on
        _fail_instance(instance, pending, f"building the instance failed: {describe(exc)}",
                       ctx, writer, summary, progress)
        return
    for name, systems in pending.items():
        if not systems:
            continue
        to_measure = _with_baseline(groups[name], systems)
        device = plan.devices[name]
        outcomes = measure_group(instance, inputs, reference, to_measure, config.defaults)
        baseline = next((o for o in outcomes if o.system.is_baseline), None)
        device_peaks = peaks.get(device) if any(o.status == "ok" for o in outcomes) else None
        for outcome in outcomes:
            if outcome.system in systems:
                record = make_record(outcome, instance, work, baseline, device_peaks, ctx)
                writer.append(record)
                summary.written.append(record)
                if progress:
                    progress(1)
        _release(outcomes)


def _fail_instance(instance, pending, reason, ctx, writer, summary, progress) -> None:
    empty = Work(flops_dense=0.0, flops_useful=0.0, bytes_min=0.0)
    for systems in pending.values():
        for system in systems:
            outcome = Outcome(system, status="failed", reason=reason)
            record = make_record(outcome, instance, empty, None, None, ctx)
            writer.append(record)
            summary.written.append(record)
            if progress:
                progress(1)


def _with_baseline(all_systems: list[System], pending: list[System]) -> list[System]:
    baseline = [s for s in all_systems if s.is_baseline]
    return baseline + [s for s in pending if not s.is_baseline]


def _release(outcomes: list[Outcome]) -> None:
    """Drop prepared kernels (GPU buffers, compressed copies) before the next instance."""
    for outcome in outcomes:
        outcome.prepared = None


def _write_env(plan: Plan, config: SuiteConfig, out_dir: Path) -> dict[str, Any]:
    env = collect_environment(list(plan.devices.values()), config.config_hash, {})
    env["suite"] = {"name": config.name, "source": config.source}
    unavailable = {name: d.unavailable_reason() for name, d in plan.devices.items()}
    env["unavailable_devices"] = {k: v for k, v in unavailable.items() if v}
    (out_dir / ENV_FILE).write_text(json.dumps(env, indent=2, default=str))
    return env


def _record_peaks(out_dir: Path, env: dict[str, Any], device: str, peaks: Peaks) -> None:
    env["peaks"][device] = peaks.as_dict()
    (out_dir / ENV_FILE).write_text(json.dumps(env, indent=2, default=str))
