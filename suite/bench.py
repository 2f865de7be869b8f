"""Measure a few kernels on one instance with the harness's own loop (for bench scripts).

The bench scripts (``python -m kernels.spmm.bench``, ``python -m kernels.moe.bench``) and
pytest-benchmark cases go through here, so there is one timing loop: validated first on
every batch, warm-up, round-robin samples, the last timed output re-checked.
Main entry: ``measure_kernels(family, params, kernels, settings) -> dict[name, Outcome]``.
"""

from __future__ import annotations

from dataclasses import dataclass

from suite import registry
from suite.build_group import SharedBuild
from suite.config import MeasureSettings, SystemEntry
from suite.context import ArtifactCache
from suite.errors import UserError
from suite.measure import GroupMeasurement, Outcome, Row
from suite.plan import System
from suite.workload import Work, WorkloadInstance

BENCH_SETTINGS = MeasureSettings(warmup=1, min_repeats=9, max_repeats=30, min_time_s=0.3,
                                 sample_time_s=0.005)


@dataclass(frozen=True)
class Bench:
    """One bench instance's outcomes (by kernel label) and the work of one call."""

    instance: WorkloadInstance
    outcomes: dict[str, Outcome]
    work: Work

    def median_s(self, label: str) -> float | None:
        outcome = self.outcomes.get(label)
        if outcome is None or outcome.status != "ok" or not outcome.samples_s:
            return None
        samples = sorted(outcome.samples_s)
        return samples[len(samples) // 2]


def measure_kernels(family: str, params: dict, kernels: list[str] | dict[str, tuple],
                    settings: MeasureSettings = BENCH_SETTINGS, seed: int = 0,
                    device: str = "cpu") -> Bench:
    """``kernels``: names, or label -> (kernel name, options) for option variants."""
    spec = registry.get_family(family)
    instance = spec.instantiate(params, seed)
    if not isinstance(kernels, dict):
        kernels = {name: (name, {}) for name in kernels}
    dev = registry.make_device(device)
    rows, has_baseline = [], False
    for name, options in kernels.values():
        is_baseline = name == spec.baseline_kernel and not has_baseline
        has_baseline = has_baseline or is_baseline
        rows.append(Row(instance, _system(family, name, options, dev, is_baseline)))
    shared = SharedBuild([instance], settings)
    outcomes = GroupMeasurement(rows, shared, ArtifactCache()).run()
    return Bench(instance, dict(zip(kernels, outcomes, strict=True)), shared.work(instance))


def _system(family: str, name: str, options: dict, device, is_baseline: bool) -> System:
    spec = registry.find_kernel(family, name, device.kind)
    if spec is None:
        raise UserError(f"unknown kernel {name!r} for {family} on {device.kind}; "
                                 f"allowed: {', '.join(registry.kernel_names(family, device.kind))}")
    return System(SystemEntry(device.name, name, options=dict(options)), spec, device,
                  is_baseline)
