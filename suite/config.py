"""Suite configs: YAML validated into dataclasses, with errors that point at the line.

A suite names its measurement defaults, its workloads (a family plus a parameter grid whose
list values are expanded as a Cartesian product) and its systems (device + kernel + options).
A workload group may carry a ``measure:`` block (the ``defaults`` keys but ``seed``) merged
over the suite's defaults. Main entry: ``load_suite(name_or_path) -> SuiteConfig``;
``expand_groups(config)`` / ``expand_instances(config)``. Packaged suites live in
``suite/suites/*.yaml`` (``quick`` is the default).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from suite import registry
from suite.errors import ParamError, UserError
from suite.measure_settings import (  # noqa: F401  (re-exported)
    GROUP_KEYS,
    MODES,
    RULES,
    SCENARIOS,
    MeasureSettings,
    Rule,
)
from suite.workload import WorkloadInstance, stable_hash
from suite.yaml_lines import MAX_BYTES, decode_text, line_of, load_with_lines

MAX_GRID_POINTS = 10_000  # per group; a bigger product is a typo that would never finish


@dataclass(frozen=True)
class WorkloadGroup:
    family: str
    grid: dict[str, list[Any]]
    path: str
    measure: MeasureSettings = field(default_factory=MeasureSettings)  # defaults + own block


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
        return stable_hash({"defaults": vars(self.defaults),
                            "workloads": [(w.family, w.grid, vars(w.measure))
                                          for w in self.workloads],
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
        return parse_suite(decode_text(_read_head(path), str(path)), str(path))
    if name_or_path not in packaged_suites():
        raise UserError(f"--suite: unknown suite {name_or_path!r}; allowed: a YAML path or "
                        + ", ".join(packaged_suites()))
    data = (resources.files("suite") / "suites" / f"{name_or_path}.yaml").read_bytes()
    return parse_suite(decode_text(data, f"{name_or_path}.yaml"), f"{name_or_path}.yaml")


def _read_head(path: Path) -> bytes:
    """The file's bytes, reading at most one past the limit: a huge file costs no memory."""
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None


def parse_suite(text: str, source: str) -> SuiteConfig:
    data, lines = load_with_lines(text, source)
    shell = SuiteConfig("", "", MeasureSettings(), (), (), source, lines=lines)
    if not isinstance(data, dict):
        raise shell.error("", "a suite is a mapping with keys " + ", ".join(TOP_KEYS))
    _no_unknown(shell, "", data, TOP_KEYS)
    for key in ("name", "workloads", "systems"):
        if key not in data:
            raise shell.error(key, "missing; a suite needs name, workloads and systems")
    defaults = _measure(shell, "defaults", _block(data, "defaults"), MeasureSettings(),
                        tuple(RULES))
    return SuiteConfig(
        name=_typed(shell, "name", data["name"], str),
        description=_typed(shell, "description", data.get("description", ""), str),
        defaults=defaults,
        workloads=tuple(_workloads(shell, data["workloads"], defaults)),
        systems=tuple(_systems(shell, data["systems"])),
        source=source, prices=_prices(shell, _block(data, "prices")), lines=lines)


def _block(raw: dict, key: str) -> Any:
    """An optional block: absent or empty (``key:``) means {}; anything else is checked."""
    value = raw.get(key)
    return {} if value is None else value


def _measure(cfg: SuiteConfig, path: str, raw: Any, base: MeasureSettings,
             keys: tuple[str, ...]) -> MeasureSettings:
    """``raw`` validated key by key and merged over ``base``; the pairs checked after."""
    _typed(cfg, path, raw, dict)
    _no_unknown(cfg, path, raw, keys)
    values = {key: _setting(cfg, f"{path}.{key}", RULES[key], value)
              for key, value in raw.items()}
    settings = replace(base, **values)
    _ordered(cfg, path, raw, settings, "min_repeats", "max_repeats", ">=")
    _ordered(cfg, path, raw, settings, "min_time_s", "max_time_s", ">")
    return settings


def _setting(cfg: SuiteConfig, path: str, rule: Rule, value: Any) -> Any:
    if rule.choices:
        if _typed(cfg, path, value, str) not in rule.choices:
            raise cfg.error(path, f"got {_show(value)}; allowed: {rule.allowed()}")
        return value
    _typed(cfg, path, value, int if rule.kind is int else (int, float))
    # ints compare exactly with no float conversion, so 10**400 is refused, not an OverflowError
    finite = not isinstance(value, float) or math.isfinite(value)
    if not (finite and (value > rule.low if rule.above else value >= rule.low)
            and (rule.high is None or value <= rule.high)):
        raise cfg.error(path, f"got {_show(value)}; allowed: {rule.allowed()}")
    return rule.kind(value)


def _ordered(cfg: SuiteConfig, path: str, raw: dict, settings: MeasureSettings,
             low_key: str, high_key: str, relation: str) -> None:
    """``high_key relation low_key`` on the merged settings; blame the key this block set."""
    low, high = getattr(settings, low_key), getattr(settings, high_key)
    if high > low or (relation == ">=" and high == low):
        return
    if high_key in raw or low_key not in raw:
        raise cfg.error(f"{path}.{high_key}", f"got {high!r}; allowed: {relation} "
                        f"{low_key} ({low!r})")
    flipped = "<" if relation == ">" else "<="
    raise cfg.error(f"{path}.{low_key}", f"got {low!r}; allowed: {flipped} {high_key} ({high!r})")


def _workloads(cfg: SuiteConfig, raw: Any, defaults: MeasureSettings) -> list[WorkloadGroup]:
    _typed(cfg, "workloads", raw, list)
    groups = []
    for i, item in enumerate(raw):
        path = f"workloads[{i}]"
        _typed(cfg, path, item, dict)
        _no_unknown(cfg, path, item, ("family", "grid", "measure"))
        if "family" not in item:
            raise cfg.error(path, "missing 'family'; allowed: "
                            + ", ".join(sorted(registry.families())))
        family = item["family"]
        if family not in registry.families():
            raise cfg.error(f"{path}.family", f"unknown family {_show(family)}; allowed: "
                            + ", ".join(sorted(registry.families())) + registry.broken_note())
        measure = _measure(cfg, f"{path}.measure", _block(item, "measure"), defaults,
                           GROUP_KEYS)
        groups.append(WorkloadGroup(family, _grid(cfg, f"{path}.grid", item), path, measure))
    return groups


def _grid(cfg: SuiteConfig, path: str, item: dict) -> dict[str, list[Any]]:
    """Every value a list of choices; no empty list (it would expand to nothing, silently)."""
    grid = _typed(cfg, path, _block(item, "grid"), dict)
    grid = {k: v if isinstance(v, list) else [v] for k, v in grid.items()}
    for key, choices in grid.items():
        if not choices:
            raise cfg.error(f"{path}.{key}", "got []; allowed: a value or a non-empty list")
    points = math.prod(len(choices) for choices in grid.values())
    if points > MAX_GRID_POINTS:
        raise cfg.error(path, f"got {points} grid points; allowed: at most {MAX_GRID_POINTS} "
                        "per workload group")
    return grid


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
        family = item.get("family")
        entries.append(SystemEntry(
            device=_typed(cfg, f"{path}.device", item["device"], str),
            kernel=_typed(cfg, f"{path}.kernel", item["kernel"], str),
            options=_typed(cfg, f"{path}.options", _block(item, "options"), dict),
            family=None if family is None else _typed(cfg, f"{path}.family", family, str),
            path=path))
    return entries


def _prices(cfg: SuiteConfig, raw: Any) -> dict[str, float]:
    _typed(cfg, "prices", raw, dict)
    for key, value in raw.items():
        _typed(cfg, f"prices.{key}", value, (int, float))
        if not (isinstance(value, int) or math.isfinite(value)) or value < 0:
            raise cfg.error(f"prices.{key}", f"got {_show(value)}; allowed: a finite number "
                            ">= 0 (US$ per hour)")
    return {str(k): float(v) for k, v in raw.items()}


def _typed(cfg: SuiteConfig, path: str, value: Any, kind) -> Any:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        names = " or ".join({int: "integer", float: "number", str: "string", list: "list",
                             dict: "mapping"}[k] for k in kinds)
        raise cfg.error(path, f"got {_show(value)}; allowed: {names}")
    return value


def _show(value: Any) -> str:
    """``repr`` cut short: an error stays one readable line whatever the user pasted."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _no_unknown(cfg: SuiteConfig, path: str, raw: dict, allowed: tuple[str, ...]) -> None:
    for key in raw:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise cfg.error(where, f"unknown field; allowed: {', '.join(allowed)}")


def expand_groups(cfg: SuiteConfig, only: set[str] | None = None
                  ) -> list[tuple[WorkloadGroup, list[WorkloadInstance]]]:
    """Each workload group (``only``: of these families) with its grid's instances, built and
    validated by its family; the group carries the merged ``measure`` settings."""
    return [(group, _expand(cfg, group)) for group in cfg.workloads
            if not only or group.family in only]


def expand_instances(cfg: SuiteConfig, only: set[str] | None = None) -> list[WorkloadInstance]:
    """Every grid point of every workload group, built and validated by its family."""
    return [instance for _, instances in expand_groups(cfg, only) for instance in instances]


def _expand(cfg: SuiteConfig, group: WorkloadGroup) -> list[WorkloadInstance]:
    family = registry.get_family(group.family)
    keys = list(group.grid)
    instances: list[WorkloadInstance] = []
    for combo in itertools.product(*(range(len(group.grid[k])) for k in keys)):
        params = {k: group.grid[k][j] for k, j in zip(keys, combo, strict=True)}
        try:
            instances.append(family.instantiate(params, cfg.defaults.seed))
        except ParamError as exc:
            index = combo[keys.index(exc.field)] if exc.field in keys else None
            where = f"{group.path}.grid.{exc.field}"
            if index is not None and len(group.grid[exc.field]) > 1:
                where += f"[{index}]"
            raise cfg.error(where, f"got {_show(exc.value)}; allowed: {exc.allowed}") from None
    return instances
