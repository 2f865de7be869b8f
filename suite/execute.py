"""Execute one job (a build group on every device of the plan) and yield its records.

A ``Job`` is plain, picklable data, so the same ``JobExecutor`` runs in the harness's
process (``isolation: none``) or in a worker process (``suite.worker``). It builds the
group's inputs once, measures each device's rows (``suite.measure``), derives records,
and frees the group's shared artifacts after its last job. Messages it yields:
``("rows", [(instance_id, system_id, device), ...])`` per device before measuring (so a
watchdog can name the row that hung), ``("record", ResultRecord)``, ``("peaks", device,
Peaks)``. Main entry: ``JobExecutor(context).execute(job)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from suite import registry
from suite.build_group import SharedBuild
from suite.config import MeasureSettings, SystemEntry
from suite.context import ArtifactCache
from suite.derive import Baselines, RunContext, make_record
from suite.devices import Device, Peaks
from suite.measure import GroupMeasurement, Outcome, Row, describe
from suite.plan import System
from suite.workload import Work, WorkloadInstance


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
        self._reported: set[str] = set()

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
        if self.on_phase is not None:
            self.on_phase(-1)  # between rows: nothing for a watchdog to blame
        peaks = self._peaks_of(self._device_named(device_name), outcomes)
        if peaks is not None and device_name not in self._reported:
            self._reported.add(device_name)
            yield ("peaks", device_name, peaks)
        for record in self._records(job, shared, outcomes, peaks):
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
                 peaks: Peaks | None) -> Iterator[Any]:
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
                yield make_record(
                    outcome, work, Baselines(baseline, rank), peaks, self.context,
                    scenario=job.settings.scenario,
                    samples_requested=_requested(outcome, job.settings),
                    build_key=shared.key, timed_with=timed_with)

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

    def _peaks_of(self, device: Device, outcomes: list[Outcome]) -> Peaks | None:
        """Each device's peaks, measured once per run, the first time it ran something."""
        if device.name not in self._peaks:
            if not any(o.status == "ok" for o in outcomes):
                return None
            try:
                self._peaks[device.name] = device.measure_peaks()
            except Exception:  # no peaks means no roofline, never a lost run
                self._peaks[device.name] = None
        return self._peaks[device.name]


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
