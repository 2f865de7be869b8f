"""Suite configs: YAML validated into dataclasses, with errors that point at the line.

A suite names its measurement defaults, its workloads (a family plus a parameter grid whose
list values are expanded as a Cartesian product) and its systems (device + kernel + options).
Main entry: ``load_suite(name_or_path) -> SuiteConfig``; ``expand_instances(config)``.
Packaged suites live in ``suite/suites/*.yaml`` (``quick`` is the default).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from suite import registry
from suite.errors import ParamError, UserError
from suite.workload import WorkloadInstance, stable_hash
from suite.yaml_lines import line_of, load_with_lines


@dataclass(frozen=True)
class MeasureSettings:
    """How each system is timed. Repeats interleave all systems of a device."""

    warmup: int = 2             # untimed calls after the validating call
    min_repeats: int = 5        # samples per system at least
    max_repeats: int = 50       # samples per system at most
    min_time_s: float = 0.2     # measured time per system at least (unless max_repeats)
    sample_time_s: float = 0.002  # calls are batched until one sample lasts this long
    seed: int = 0               # seeds every instance's inputs


@dataclass(frozen=True)
class WorkloadGroup:
    family: str
    grid: dict[str, list[Any]]
    path: str


@dataclass(frozen=True)
class SystemEntry:
    device: str
    kernel: str
    options: dict[str, Any] = field(default_factory=dict)
    family: str | None = None   # None: every family of the suite that has this kernel
    path: str = ""

    @property
    def system_id(self) -> str:
        tail = f"[{stable_hash(self.options, 6)}]" if self.options else ""
        return f"{self.device}/{self.kernel}{tail}"


@dataclass(frozen=True)
class SuiteConfig:
    name: str
    description: str
    defaults: MeasureSettings
    workloads: tuple[WorkloadGroup, ...]
    systems: tuple[SystemEntry, ...]
    source: str
    prices: dict[str, float] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    @property
    def config_hash(self) -> str:
        return stable_hash({"defaults": self.defaults.__dict__,
                            "workloads": [(w.family, w.grid) for w in self.workloads],
                            "systems": [(s.device, s.kernel, s.options, s.family)
                                        for s in self.systems]})

    def error(self, path: str, message: str) -> UserError:
        """A UserError pointing at ``path`` in the YAML file."""
        line = line_of(self.lines, path)
        where = f"{self.source}:{line}" if line else self.source
        return UserError(f"{where}: {path}: {message}")


TOP_KEYS = ("name", "description", "defaults", "workloads", "systems", "prices")


def packaged_suites() -> list[str]:
    folder = resources.files("suite") / "suites"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_suite(name_or_path: str) -> SuiteConfig:
    """A packaged suite name (``quick``, ``standard``) or a path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise UserError(f"--suite: no such file {name_or_path!r}")
        return parse_suite(path.read_text(), str(path))
    if name_or_path not in packaged_suites():
        raise UserError(f"--suite: unknown suite {name_or_path!r}; allowed: a YAML path or "
                        + ", ".join(packaged_suites()))
    text = (resources.files("suite") / "suites" / f"{name_or_path}.yaml").read_text()
    return parse_suite(text, f"{name_or_path}.yaml")


def parse_suite(text: str, source: str) -> SuiteConfig:
    data, lines = load_with_lines(text, source)
    shell = SuiteConfig("", "", MeasureSettings(), (), (), source, lines=lines)
    if not isinstance(data, dict):
        raise shell.error("", "a suite is a mapping with keys " + ", ".join(TOP_KEYS))
    _no_unknown(shell, "", data, TOP_KEYS)
    for key in ("name", "workloads", "systems"):
        if key not in data:
            raise shell.error(key, "missing; a suite needs name, workloads and systems")
    return SuiteConfig(
        name=_typed(shell, "name", data["name"], str),
        description=_typed(shell, "description", data.get("description", ""), str),
        defaults=_defaults(shell, data.get("defaults") or {}),
        workloads=tuple(_workloads(shell, data["workloads"])),
        systems=tuple(_systems(shell, data["systems"])),
        source=source, prices=_prices(shell, data.get("prices") or {}), lines=lines)


def _defaults(cfg: SuiteConfig, raw: Any) -> MeasureSettings:
    allowed = {f.name: f.type for f in fields(MeasureSettings)}
    _typed(cfg, "defaults", raw, dict)
    _no_unknown(cfg, "defaults", raw, tuple(allowed))
    values = {}
    for key, value in raw.items():
        want = int if allowed[key] == "int" else (int, float)
        _typed(cfg, f"defaults.{key}", value, want)
        if value < 0 or (key in ("min_repeats", "max_repeats") and value < 1):
            raise cfg.error(f"defaults.{key}", f"got {value!r}; allowed: a number >= "
                            f"{1 if 'repeats' in key else 0}")
        values[key] = value
    settings = MeasureSettings(**values)
    if settings.max_repeats < settings.min_repeats:
        raise cfg.error("defaults.max_repeats", f"got {settings.max_repeats}; allowed: >= "
                        f"min_repeats ({settings.min_repeats})")
    return settings


def _workloads(cfg: SuiteConfig, raw: Any) -> list[WorkloadGroup]:
    _typed(cfg, "workloads", raw, list)
    groups = []
    for i, item in enumerate(raw):
        path = f"workloads[{i}]"
        _typed(cfg, path, item, dict)
        _no_unknown(cfg, path, item, ("family", "grid"))
        if "family" not in item:
            raise cfg.error(path, "missing 'family'; allowed: "
                            + ", ".join(sorted(registry.families())))
        family = item["family"]
        if family not in registry.families():
            raise cfg.error(f"{path}.family", f"unknown family {family!r}; allowed: "
                            + ", ".join(sorted(registry.families())) + registry.broken_note())
        grid = _typed(cfg, f"{path}.grid", item.get("grid") or {}, dict)
        grid = {k: v if isinstance(v, list) else [v] for k, v in grid.items()}
        groups.append(WorkloadGroup(family, grid, path))
    return groups


def _systems(cfg: SuiteConfig, raw: Any) -> list[SystemEntry]:
    _typed(cfg, "systems", raw, list)
    entries = []
    for i, item in enumerate(raw):
        path = f"systems[{i}]"
        _typed(cfg, path, item, dict)
        _no_unknown(cfg, path, item, ("device", "kernel", "options", "family"))
        for key in ("device", "kernel"):
            if key not in item:
                raise cfg.error(path, f"missing {key!r}; a system is device + kernel")
        if item["kernel"] is None:  # YAML reads a bare `null` as None: it names the null system
            item = {**item, "kernel": "null"}
        entries.append(SystemEntry(
            device=_typed(cfg, f"{path}.device", item["device"], str),
            kernel=_typed(cfg, f"{path}.kernel", item["kernel"], str),
            options=_typed(cfg, f"{path}.options", item.get("options") or {}, dict),
            family=item.get("family"), path=path))
    return entries


def _prices(cfg: SuiteConfig, raw: Any) -> dict[str, float]:
    _typed(cfg, "prices", raw, dict)
    for key, value in raw.items():
        _typed(cfg, f"prices.{key}", value, (int, float))
    return {str(k): float(v) for k, v in raw.items()}


def _typed(cfg: SuiteConfig, path: str, value: Any, kind) -> Any:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        names = " or ".join({int: "integer", float: "number", str: "string", list: "list",
                             dict: "mapping"}[k] for k in kinds)
        raise cfg.error(path, f"got {value!r}; allowed: {names}")
    return value


def _no_unknown(cfg: SuiteConfig, path: str, raw: dict, allowed: tuple[str, ...]) -> None:
    for key in raw:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise cfg.error(where, f"unknown field; allowed: {', '.join(allowed)}")


def expand_instances(cfg: SuiteConfig, only: set[str] | None = None) -> list[WorkloadInstance]:
    """Every grid point of every workload group, built and validated by its family."""
    instances: list[WorkloadInstance] = []
    for group in cfg.workloads:
        if only and group.family not in only:
            continue
        family = registry.get_family(group.family)
        keys = list(group.grid)
        for combo in itertools.product(*(range(len(group.grid[k])) for k in keys)):
            params = {k: group.grid[k][j] for k, j in zip(keys, combo, strict=True)}
            try:
                instances.append(family.instantiate(params, cfg.defaults.seed))
            except ParamError as exc:
                index = combo[keys.index(exc.field)] if exc.field in keys else None
                where = f"{group.path}.grid.{exc.field}"
                if index is not None and len(group.grid[exc.field]) > 1:
                    where += f"[{index}]"
                raise cfg.error(where, f"got {exc.value!r}; allowed: {exc.allowed}") from None
    return instances
