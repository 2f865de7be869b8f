"""Execute one job (a build group on every device of the plan) and yield its records.

A ``Job`` is plain, picklable data, so the same ``JobExecutor`` runs in the harness's
process (``isolation: none``) or in a worker process (``suite.worker``). It builds the
group's inputs once, measures each device's rows (``suite.measure``), derives records,
and frees the group's shared artifacts after its last job. Messages it yields:
``("rows", [(instance_id, system_id, device), ...])`` per device before measuring (so a
watchdog can name the row that hung), ``("record", ResultRecord)``, ``("peaks", device,
Peaks)`` each time a device's peaks are measured (when it first runs something, then
again every ``PEAK_EVERY_S``: a peak read in a slow moment must not stand for the run; the
records use the best reading so far). CPU rows also get ``threads_used``
(``suite.cpu_use``), measured untimed after the group's timing.
Main entry: ``JobExecutor(context).execute(job)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from suite import registry
from suite.build_group import SharedBuild
from suite.config import MeasureSettings, SystemEntry
from suite.context import ArtifactCache
from suite.cpu_use import threads_used
from suite.derive import Baselines, RunContext, make_record
from suite.devices import Device, Peaks
from suite.measure import GroupMeasurement, Outcome, Row, describe
from suite.plan import System
from suite.workload import Work, WorkloadInstance

PEAK_EVERY_S = 45.0


@dataclass(frozen=True)
class SystemRef:
    """A system by name, so a job pickles without kernel functions or devices."""

    entry: SystemEntry
    family: str
    kernel: str
    device: str
    is_baseline: bool
    is_rank_baseline: bool = False

    @property
    def system_id(self) -> str:
        return self.entry.system_id

    @classmethod
    def of(cls, system: System) -> SystemRef:
        return cls(system.entry, system.spec.family, system.spec.name, system.device.name,
                   system.is_baseline, system.is_rank_baseline)


@dataclass
class Job:
    """One build group: per device, the systems to measure for each instance, and which of
    those rows to write (a baseline is measured for a resumed row's speedup, not rewritten)."""

    instances: list[WorkloadInstance]
    settings: MeasureSettings
    systems: dict[str, dict[str, list[SystemRef]]]  # device -> instance_id -> systems
    write: set[tuple[str, str]]                       # (instance_id, system_id)
    last_of_group: bool = True
    excluded: set[tuple[str, str]] = field(default_factory=set)  # (device, system_id)

    def rows_left(self) -> int:
        return len(self.write)


class JobExecutor:
    """Runs jobs; holds the run's artifact cache, devices and measured peaks."""

    def __init__(self, context: RunContext, on_phase: Callable[[int], None] | None = None):
        self.context = context
        self.cache = ArtifactCache()
        self.on_phase = on_phase
        self._devices: dict[str, Device] = {}
        self._peaks: dict[str, Peaks | None] = {}
        self._peak_at: dict[str, float] = {}

    def execute(self, job: Job) -> Iterator[tuple]:
        try:
            shared = SharedBuild(job.instances, job.settings)
        except Exception as exc:  # e.g. out of memory: this group's rows fail, the run goes on
            yield from self._fail_all(job, f"building the instance failed: {describe(exc)}")
            return
        for device_name, per_instance in job.systems.items():
            yield from self._device(job, shared, device_name, per_instance)
        if job.last_of_group:
            self.cache.release(shared.key)

    def _device(self, job: Job, shared: SharedBuild, device_name: str,
                per_instance: dict[str, list[SystemRef]]) -> Iterator[tuple]:
        rows = self._rows(job, device_name, per_instance)
        if not rows:
            return
        yield ("rows", [(r.instance.instance_id, r.system.system_id, device_name) for r in rows])
        outcomes = GroupMeasurement(rows, shared, self.cache, on_phase=self.on_phase).run()
        threads = _threads(self._device_named(device_name), outcomes, self.on_phase)
        if self.on_phase is not None:
            self.on_phase(-1)  # between rows: nothing for a watchdog to blame
        fresh = self._measure_peaks(self._device_named(device_name), outcomes)
        if fresh is not None:
            yield ("peaks", device_name, fresh)
        peaks = self._peaks.get(device_name)
        for record in self._records(job, shared, outcomes, peaks, threads):
            yield ("record", record)
        for outcome in outcomes:
            outcome.prepared = outcome.run = None  # GPU buffers, compressed copies

    def _rows(self, job: Job, device_name: str,
              per_instance: dict[str, list[SystemRef]]) -> list[Row]:
        """Each instance's systems; a baseline shared by the group is measured once."""
        rows, baseline_done = [], False
        for instance in job.instances:
            for ref in per_instance.get(instance.instance_id, []):
                if (device_name, ref.system_id) in job.excluded:
                    continue
                if ref.is_baseline and baseline_done:
                    continue
                baseline_done = baseline_done or ref.is_baseline
                rows.append(Row(instance, self._system(ref)))
        return rows

    def _records(self, job: Job, shared: SharedBuild, outcomes: list[Outcome],
                 peaks: Peaks | None, threads: dict[int, float | None]) -> Iterator[Any]:
        baseline = next((o for o in outcomes if o.system.is_baseline), None)
        for instance in job.instances:
            mine = [o for o in outcomes if o.instance is instance]
            shared_baseline = None
            if baseline is not None and baseline.instance is not instance:
                shared_baseline = _baseline_for(baseline, instance)
                mine.append(shared_baseline)
            rank = next((o for o in mine if o.system.is_rank_baseline), None)
            work = _work_of(shared, instance)
            for outcome in mine:
                if (instance.instance_id, outcome.system.system_id) not in job.write:
                    continue
                timed_with = (baseline.instance.instance_id
                              if outcome is shared_baseline else "")
                record = make_record(
                    outcome, work, Baselines(baseline, rank), peaks, self.context,
                    scenario=job.settings.scenario,
                    samples_requested=_requested(outcome, job.settings),
                    build_key=shared.key, timed_with=timed_with)
                record.threads_used = threads.get(outcome.index)
                yield record

    def _fail_all(self, job: Job, reason: str) -> Iterator[tuple]:
        empty = Work(flops_dense=0.0, flops_useful=0.0, bytes_min=0.0)
        by_id = {i.instance_id: i for i in job.instances}
        for per_instance in job.systems.values():
            for iid, refs in per_instance.items():
                for ref in refs:
                    if (iid, ref.system_id) in job.write:
                        outcome = Outcome(Row(by_id[iid], self._system(ref)), status="failed",
                                          reason=reason)
                        yield ("record", make_record(outcome, empty, Baselines(), None,
                                                     self.context, scenario=job.settings.scenario))

    def _system(self, ref: SystemRef) -> System:
        spec = registry.find_kernel(ref.family, ref.kernel, self._device_named(ref.device).kind)
        if spec is None:
            raise RuntimeError(f"kernel {ref.family}/{ref.kernel} is not registered in the "
                               "worker (a plug-in that did not load there?)")
        return System(ref.entry, spec, self._device_named(ref.device), ref.is_baseline,
                      ref.is_rank_baseline)

    def _device_named(self, name: str) -> Device:
        if name not in self._devices:
            self._devices[name] = registry.make_device(name)
        return self._devices[name]

    def _measure_peaks(self, device: Device, outcomes: list[Outcome]) -> Peaks | None:
        """Measure the device's peaks when it first ran something and every
        ``PEAK_EVERY_S`` after; keep the best of each (peaks are ceilings: noise only lowers
        them). Returns the fresh reading, or None when none was due or it failed."""
        last = self._peak_at.get(device.name)
        due = last is None or time.monotonic() - last > PEAK_EVERY_S
        if not due or not any(o.status == "ok" for o in outcomes):
            return None
        self._peak_at[device.name] = time.monotonic()
        try:
            fresh = device.measure_peaks()
        except Exception:  # no peaks means no roofline, never a lost run
            return None
        best = self._peaks.get(device.name)
        self._peaks[device.name] = fresh if best is None else best.merged(fresh)
        return fresh


def _threads(device: Device, outcomes: list[Outcome],
             on_phase: Callable[[int], None] | None) -> dict[int, float | None]:
    """CPU rows: how many cores each kernel keeps busy, by the outcome's index."""
    found: dict[int, float | None] = {}
    if device.kind != "cpu":
        return found
    for outcome in outcomes:
        if outcome.active and outcome.feed and not outcome.system.device.deterministic:
            if on_phase is not None:
                on_phase(outcome.index)  # a call that hangs here is still this row's
            try:
                found[outcome.index] = threads_used(outcome.run, outcome.feed)
            except Exception:  # a probe never costs a row
                found[outcome.index] = None
    return found


def _baseline_for(baseline: Outcome, instance: WorkloadInstance) -> Outcome:
    """The group's one baseline measurement, standing for another instance of the group."""
    return replace(baseline, row=Row(instance, baseline.system))


def _work_of(shared: SharedBuild, instance: WorkloadInstance) -> Work:
    try:
        return shared.work(instance)
    except Exception:
        return Work(flops_dense=0.0, flops_useful=0.0, bytes_min=0.0)


def _requested(outcome: Outcome, settings: MeasureSettings) -> int:
    return 1 if outcome.system.device.deterministic else settings.min_repeats
