"""Run a plan: one job per build group, in a worker process or here, records as they come.

Records are appended as each job's device finishes, so a killed run keeps what it
finished; ``resume=True`` skips rows already in ``records.jsonl`` (re-measuring the
baseline when a pending row needs it for its speedup, without writing it twice) and adds
a segment (its environment and peaks) to ``env.json``. With ``isolation="process"`` a
kernel that hangs past ``max_time_s`` or crashes the interpreter becomes failed rows of
its own system and the run goes on (``suite.worker``). ``request_stop(signal_name)``
(the CLI's SIGINT/SIGTERM handler) ends the run after the current job. How noisy the
machine was (``suite.noise``: other processes' CPU share while each device measured, load
average and clock before and after, every peak reading) goes to each record's ``noise``
and to ``env.json``'s ``noise``, with the run's verdict (quiet / noisy and why).
Main entry: ``run_plan(plan, config, out_dir, resume, prices, progress, status, isolation)``.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from suite import registry
from suite.config import SuiteConfig
from suite.derive import Baselines, RunContext, make_record
from suite.devices import Peaks
from suite.environment import collect_environment, now_iso
from suite.errors import UserError
from suite.execute import Job, JobExecutor, SystemRef
from suite.measure import Outcome, Row
from suite.noise import NoiseMonitor
from suite.plan import Plan
from suite.records import RecordWriter, ResultRecord, done_keys
from suite.workload import Work, WorkloadInstance

RECORDS_FILE = "records.jsonl"
ENV_FILE = "env.json"
ISOLATIONS = ("process", "none")
_STOP: dict[str, str | None] = {"signal": None}


def request_stop(signal_name: str = "stop") -> None:
    """Ask the running plan to finish its current job and return (signal handlers call it)."""
    _STOP["signal"] = signal_name


@dataclass
class RunSummary:
    out_dir: Path
    written: list[ResultRecord] = field(default_factory=list)
    resumed_rows: int = 0
    stopped: str | None = None

    @property
    def counts(self) -> Counter:
        return Counter(r.status for r in self.written)


def run_plan(plan: Plan, config: SuiteConfig, out_dir: Path, resume: bool = False,
             prices: dict[str, float] | None = None,
             progress: Callable[[int], None] | None = None,
             status: Callable[[str], None] | None = None,
             isolation: str = "none") -> RunSummary:
    _STOP["signal"] = None  # first: a signal that comes while the run starts is kept
    if isolation not in ISOLATIONS:
        raise UserError(f"--isolation: got {isolation!r}; allowed: {', '.join(ISOLATIONS)}")
    return Runner(plan, config, out_dir, resume, prices, progress, status, isolation).run()


class InProcessPool:
    """Jobs run in this process: fastest, but a hang or a crash takes the run with it."""

    def __init__(self, context: RunContext):
        self.executor = JobExecutor(context)

    def execute(self, job: Job):
        return self.executor.execute(job)

    def close(self) -> None:
        pass


class Runner:
    """One run (or one resumed segment of it) of a plan into ``out_dir``."""

    def __init__(self, plan: Plan, config: SuiteConfig, out_dir: Path, resume: bool,
                 prices: dict[str, float] | None, progress, status, isolation: str):
        self.plan, self.config, self.out_dir, self.resume = plan, config, out_dir, resume
        self.progress = progress or (lambda n=1: None)
        self.status = status or (lambda text: None)
        self.isolation = isolation
        self.prices = {**config.prices, **(prices or {})}
        self.summary = RunSummary(out_dir)

    def run(self) -> RunSummary:
        records_path = self._records_path()
        done = done_keys(records_path) if self.resume else set()
        self.env = EnvFile(self.out_dir / ENV_FILE, self.plan, self.config, self.resume)
        ctx = RunContext(run_id=uuid.uuid4().hex[:12], suite=self.config.name,
                         env_id=self.env.env_id, config_hash=self.config.config_hash,
                         git_commit=self.env.git_commit, prices=self.prices,
                         segment=self.env.segment)
        self.context, self.writer = ctx, RecordWriter(records_path)
        self.noise = NoiseMonitor()
        pool = self._pool(ctx)
        try:
            for group in self.plan.build_groups():
                if _STOP["signal"]:
                    self.summary.stopped = _STOP["signal"]
                    break
                job = self._job(group, done)
                if job is not None:
                    self.status(group[0].label)
                    self._dispatch(pool, job)
            self.summary.stopped = self.summary.stopped or _STOP["signal"]
        finally:
            pool.close()
            self.env.set_noise(self.noise.finish(self.summary.written, self.env.peak_readings()))
        return self.summary

    def _records_path(self) -> Path:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / RECORDS_FILE
        if path.exists() and not self.resume and path.stat().st_size > 0:
            raise UserError(f"--out: {self.out_dir} already holds {RECORDS_FILE}; use "
                            "--resume to continue that run, or choose another --out")
        return path

    def _pool(self, ctx: RunContext):
        if self.isolation == "none":
            return InProcessPool(ctx)
        from suite.worker import WorkerPool
        return WorkerPool(ctx, plugin_modules())

    def _job(self, group: list[WorkloadInstance], done: set) -> Job | None:
        systems: dict[str, dict[str, list[SystemRef]]] = {}
        write: set[tuple[str, str]] = set()
        for name, device in self.plan.devices.items():
            for instance in group:
                chosen = self.plan.systems_for(instance, device)
                pending = [s for s in chosen if (instance.instance_id, s.system_id) not in done]
                self.summary.resumed_rows += len(chosen) - len(pending)
                self.progress(len(chosen) - len(pending))
                if not pending:
                    continue
                needed = [s for s in chosen if s in pending or s.is_baseline
                          or s.is_rank_baseline]
                systems.setdefault(name, {})[instance.instance_id] = [SystemRef.of(s)
                                                                      for s in needed]
                write |= {(instance.instance_id, s.system_id) for s in pending}
        if not write:
            return None
        return Job(group, self.plan.settings_for(group[0]), systems, write)

    def _dispatch(self, pool, job: Job) -> None:
        from suite.worker import WorkerDied
        while job.write:
            try:
                for message in pool.execute(job):
                    self._handle(message, job)
                if job.write:  # the executor finished without them: never lose a row silently
                    self._fail(job, None, "the harness produced no record for this row")
                return
            except WorkerDied as died:
                self._fail(job, died.row, died.reason)

    def _handle(self, message: tuple, job: Job) -> None:
        kind = message[0]
        self.noise.observe(message)
        if kind == "rows":
            self.status(_rows_text(message[1], job))
        elif kind == "record":
            self._write(message[1], job)
        elif kind == "peaks":
            self.env.add_peaks(message[1], message[2])
        elif kind == "error":
            self._fail(job, None, f"harness error: {message[1]}")

    def _write(self, record: ResultRecord, job: Job) -> None:
        if record.key not in job.write:
            return
        job.write.discard(record.key)
        self.writer.append(record)
        self.summary.written.append(record)
        self.status(f"{record.instance_label} · {record.system} done")
        self.progress(1)

    def _fail(self, job: Job, row: tuple[str, str, str] | None, reason: str) -> None:
        """Fail the culprit system's rows (or every row left, when no row is to blame)."""
        by_id = {i.instance_id: i for i in job.instances}
        for device_name, per_instance in job.systems.items():
            for iid, refs in per_instance.items():
                for ref in refs:
                    if row is not None and (ref.system_id, device_name) != row[1:]:
                        continue
                    if (iid, ref.system_id) in job.write:
                        self._write(self._failed_record(by_id[iid], ref, reason, row), job)
        if row is not None:
            job.excluded.add((row[2], row[1]))

    def _failed_record(self, instance: WorkloadInstance, ref: SystemRef, reason: str,
                       row) -> ResultRecord:
        system = next(s for s in self.plan.systems if s.system_id == ref.system_id
                      and s.device.name == ref.device and s.spec.family == ref.family)
        where = f" while running {ref.system_id} on {row[0]}" if row else ""
        outcome = Outcome(Row(instance, system), status="failed", reason=reason + where)
        empty = Work(flops_dense=0.0, flops_useful=0.0, bytes_min=0.0)
        return make_record(outcome, empty, Baselines(), None, self.context,
                           scenario=self.plan.settings_for(instance).scenario)


class EnvFile:
    """``env.json``: the first segment's environment at the top, every segment listed."""

    def __init__(self, path: Path, plan: Plan, config: SuiteConfig, resume: bool):
        self.path = path
        fresh = collect_environment(list(plan.devices.values()), config.config_hash, {})
        fresh["suite"] = {"name": config.name, "source": config.source}
        unavailable = {n: d.unavailable_reason() for n, d in plan.devices.items()}
        fresh["unavailable_devices"] = {k: v for k, v in unavailable.items() if v}
        old = _read_json(path) if resume else None
        segment = {"segment": 0, "started_at": now_iso(), "env_id": fresh["env_id"],
                   "git_commit": fresh["git_commit"], "peaks": {}}
        if old is None:
            self.data, fresh["segments"] = fresh, [segment]
        else:
            self.data = old
            segments = old.setdefault("segments", [{"segment": 0, "env_id": old.get("env_id"),
                                                    "peaks": old.get("peaks", {})}])
            segment["segment"] = len(segments)
            segment["environment"] = {k: v for k, v in fresh.items() if k != "segments"}
            segments.append(segment)
        self.segment = segment["segment"]
        self.env_id, self.git_commit = fresh["env_id"], fresh["git_commit"]
        self._save()

    def add_peaks(self, device: str, peaks: Peaks) -> None:
        """One reading: listed with its time; ``peaks`` keeps the best of each figure."""
        reading = {**peaks.as_dict(), "at": now_iso()}
        self.data.setdefault("peak_readings", {}).setdefault(device, []).append(reading)
        for holder in (self.data.setdefault("peaks", {}), self.data["segments"][-1]["peaks"]):
            best = holder.get(device)
            holder[device] = (Peaks.from_dict(best).merged(peaks) if best else peaks).as_dict()
        self._save()

    def peak_readings(self) -> dict[str, list[dict[str, Any]]]:
        """This segment's readings, per device (for the run's noise verdict)."""
        since = self.data["segments"][-1].get("started_at", "")
        return {device: [r for r in readings if r.get("at", "") >= since]
                for device, readings in self.data.get("peak_readings", {}).items()}

    def set_noise(self, noise: dict[str, Any]) -> None:
        self.data["noise"] = self.data["segments"][-1]["noise"] = noise
        self._save()

    def _save(self) -> None:
        try:
            self.path.write_text(json.dumps(self.data, indent=2, default=str))
        except OSError as exc:
            raise UserError(f"--out: cannot write {self.path}: {exc.strerror or exc}") from None


def _rows_text(rows: list[tuple[str, str, str]], job: Job) -> str:
    """The progress bar's line while a device measures: the instance and its systems."""
    labels = {i.instance_id: i.label for i in job.instances}
    first = labels.get(rows[0][0], rows[0][0]) if rows else ""
    systems = sorted({r[1] for r in rows})
    more = f" +{len(labels) - 1} query points" if len(labels) > 1 else ""
    return f"{first}{more} · {', '.join(systems)}"


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def plugin_modules() -> list[str]:
    """Modules whose registrations a worker must import (tests' and labs' plug-ins too)."""
    names = {k.module or k.prepare.__module__ for k in registry.kernels()}
    names |= {f.build.__module__ for f in registry.families().values()}
    return sorted(n for n in names if n and n != "__main__")
