"""Turn a validated suite into a plan: which systems run which instances on which device.

Each family's dense baseline kernel (and its rank baseline, where it names one) is added on
every device a family runs on, because speedups are only ever taken against a baseline
measured in the same run. Instances are ordered so that a build group (instances that
differ only in query-time parameters) is contiguous: its inputs and artifacts are built
once and freed after its last instance. Main entry: ``make_plan(config, only, system_patterns) -> Plan``.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from suite import registry
from suite.build_group import build_key
from suite.config import MeasureSettings, SuiteConfig, SystemEntry, expand_groups
from suite.devices import Device
from suite.errors import UserError
from suite.registry import KernelSpec
from suite.workload import WorkloadInstance


@dataclass(frozen=True)
class System:
    """A kernel bound to a device, as configured by one YAML entry."""

    entry: SystemEntry
    spec: KernelSpec
    device: Device
    is_baseline: bool
    is_rank_baseline: bool = False

    @property
    def system_id(self) -> str:
        return self.entry.system_id


@dataclass(frozen=True)
class Plan:
    instances: list[WorkloadInstance]
    devices: dict[str, Device]
    systems: list[System]
    settings: dict[str, MeasureSettings] = field(default_factory=dict)  # by instance_id

    def settings_for(self, instance: WorkloadInstance) -> MeasureSettings:
        return self.settings.get(instance.instance_id, MeasureSettings())

    def build_groups(self) -> list[list[WorkloadInstance]]:
        """Contiguous runs of instances sharing a build key (the plan is ordered so)."""
        groups: list[list[WorkloadInstance]] = []
        for instance in self.instances:
            if groups and build_key(groups[-1][0]) == build_key(instance):
                groups[-1].append(instance)
            else:
                groups.append([instance])
        return groups

    def systems_for(self, instance: WorkloadInstance, device: Device) -> list[System]:
        """Baseline first, then the others, for this instance's family on this device."""
        chosen = [s for s in self.systems
                  if s.device is device and s.spec.family == instance.family]
        return sorted(chosen, key=lambda s: not s.is_baseline)

    @property
    def row_count(self) -> int:
        return sum(len(self.systems_for(i, d)) for i in self.instances
                   for d in self.devices.values())


def make_plan(cfg: SuiteConfig, only: set[str] | None = None,
              system_patterns: list[str] | None = None) -> Plan:
    if only:
        unknown = sorted(only - set(registry.families()))
        if unknown:
            raise UserError(f"--only: unknown family {unknown[0]!r}; allowed: "
                            + ", ".join(sorted(registry.families())))
    groups = expand_groups(cfg, only)
    settings = {i.instance_id: g.measure for g, members in groups for i in members}
    for group, members in groups:
        _check_scenario(cfg, group, members)
    instances = _by_build_group([i for _, members in groups for i in members])
    if not instances:
        raise UserError(f"{cfg.source}: no workload instances"
                        + (f" for --only {','.join(sorted(only))}" if only else ""))
    # Kernels are validated against every family of the suite, so --only never turns a
    # valid suite into an error; systems are then bound to the selected families only.
    suite_families = {g.family for g in cfg.workloads}
    selected = {i.family for i in instances}
    devices: dict[str, Device] = {}
    systems: list[System] = []
    for entry in cfg.systems:
        device = _device(cfg, entry, devices)
        for family in sorted(selected):
            spec = _kernel(cfg, entry, family, device, suite_families)
            if spec is not None:
                fam = registry.get_family(family)
                systems.append(System(entry, spec, device, spec.name == fam.baseline_kernel,
                                      spec.name == fam.rank_baseline_kernel))
    _check_each_system_can_run(cfg, systems, instances)
    systems = _filter(systems, system_patterns)
    systems = _add_baselines(systems, selected)
    used = {s.device.name for s in systems}
    return Plan(instances, {k: v for k, v in devices.items() if k in used}, systems, settings)


def _by_build_group(instances: list[WorkloadInstance]) -> list[WorkloadInstance]:
    """Stable order with each build group contiguous, so its artifacts are built once."""
    first: dict[str, int] = {}
    for index, instance in enumerate(instances):
        first.setdefault(build_key(instance), index)
    return sorted(instances, key=lambda i: first[build_key(i)])


def _check_scenario(cfg: SuiteConfig, group, members: list[WorkloadInstance]) -> None:
    scenarios = registry.get_family(group.family).scenarios
    if group.measure.scenario not in scenarios:
        raise cfg.error(f"{group.path}.measure.scenario",
                        f"got {group.measure.scenario!r}; allowed for {group.family}: "
                        + ", ".join(scenarios))


def _device(cfg: SuiteConfig, entry: SystemEntry, devices: dict[str, Device]) -> Device:
    if entry.device not in devices:
        try:
            devices[entry.device] = registry.make_device(entry.device)
        except UserError as exc:
            raise cfg.error(f"{entry.path}.device", str(exc)) from None
    return devices[entry.device]


def _kernel(cfg: SuiteConfig, entry: SystemEntry, family: str, device: Device,
            suite_families: set[str]) -> KernelSpec | None:
    if entry.family is not None and entry.family not in registry.families():
        raise cfg.error(f"{entry.path}.family", f"unknown family {entry.family!r}; allowed: "
                        + ", ".join(sorted(registry.families())))
    if entry.family is not None and entry.family != family:
        return None
    spec = registry.find_kernel(family, entry.kernel, device.kind)
    if spec is None and not any(registry.find_kernel(f, entry.kernel, device.kind)
                                for f in suite_families):
        allowed = sorted({n for f in suite_families for n in registry.kernel_names(f, device.kind)})
        raise cfg.error(f"{entry.path}.kernel", f"unknown kernel {entry.kernel!r} on "
                        f"{device.kind}; allowed: {', '.join(allowed) or 'none'}"
                        + registry.broken_note())
    return spec


def _check_each_system_can_run(cfg: SuiteConfig, systems: list[System],
                               instances: list[WorkloadInstance]) -> None:
    """A listed kernel that supports none of its instances (an N:M pattern it cannot do,
    say) is a configuration mistake, not a column of skipped rows."""
    for entry in cfg.systems:
        bound = [s for s in systems if s.entry is entry]
        reasons = [s.spec.unsupported_reason(i) for s in bound for i in instances
                   if i.family == s.spec.family]
        if reasons and all(reasons):
            patterns = sorted({str(i.params.get("pattern", i.label)) for s in bound
                               for i in instances if i.family == s.spec.family})
            raise cfg.error(f"{entry.path}.kernel", f"{entry.kernel} cannot run any instance "
                            f"of this suite ({', '.join(patterns)}): {reasons[0]}")


def _filter(systems: list[System], patterns: list[str] | None) -> list[System]:
    if not patterns:
        return systems
    kept = [s for s in systems if any(fnmatch.fnmatch(s.system_id, p) for p in patterns)]
    if not kept:
        raise UserError(f"--systems: {','.join(patterns)} matches none of "
                        + ", ".join(sorted({s.system_id for s in systems})))
    return kept


def _add_baselines(systems: list[System], families: set[str]) -> list[System]:
    """Every (family, device) in the plan gets its family's dense kernel as baseline, and
    its rank baseline (if it names one and the device has it)."""
    out = list(systems)
    for device in {id(s.device): s.device for s in systems}.values():
        for family in families:
            here = [s for s in out if s.device is device and s.spec.family == family]
            if not here:
                continue
            fam = registry.get_family(family)
            if not any(s.is_baseline for s in here):
                spec = registry.find_kernel(family, fam.baseline_kernel, device.kind)
                if spec is None:
                    raise UserError(f"family {family} has no baseline kernel "
                                    f"{fam.baseline_kernel!r} on {device.kind}; cannot "
                                    "compute speedups there")
                out.append(System(SystemEntry(device.name, spec.name, path="(baseline)"),
                                  spec, device, True))
            rank = fam.rank_baseline_kernel
            spec = registry.find_kernel(family, rank, device.kind) if rank else None
            if spec is not None and not any(s.is_rank_baseline for s in here):
                out.append(System(SystemEntry(device.name, rank, path="(rank baseline)"),
                                  spec, device, False, True))
    return out
