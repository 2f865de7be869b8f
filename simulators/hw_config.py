"""Hardware configs of the simulated accelerator: YAML in, a validated frozen dataclass out.

Entry points: ``load_hw_config(name_or_path)`` (a packaged name such as ``sparse-tc-32x32``
or a YAML file), ``HardwareConfig.from_dict(d)`` and ``cfg.replace(rows=64)``; every bad
field raises ``suite.errors.UserError`` in one line naming the field, the value and what is
allowed. Energy defaults are 45 nm figures (Horowitz, "Computing's energy problem",
ISSCC 2014); see ``EnergyTable`` and docs/simulator.md.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from simulators.area import TECH_NODES_NM
from suite.errors import ParamError, UserError

HW_DIR = Path(__file__).parent / "hw"
DATAFLOWS = ("os", "ws", "is")
SPARSITY_MODES = ("dense", "fixed", "flexible")
_NM = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")


def parse_nm(text: Any, field_name: str = "pattern") -> tuple[int, int]:
    """``"2:4"`` -> (2, 4); anything else is a one-line ``ParamError``."""
    match = _NM.match(str(text))
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)) <= 256:
        raise ParamError(field_name, text, "N:M with 1 <= N <= M <= 256, e.g. 2:4")
    return int(match.group(1)), int(match.group(2))


@dataclass(frozen=True)
class EnergyTable:
    """Energy per event in picojoules (45 nm defaults, Horowitz ISSCC 2014).

    ``mac_pj``: one 8-bit integer multiply (0.2 pJ) plus add (0.03 pJ).
    ``*_sram_pj_per_byte``: a 64-bit read of a 32 KB SRAM costs ~20 pJ, i.e. 2.5 pJ/byte.
    ``dram_pj_per_byte``: a 64-bit DRAM access costs 1.3-2.6 nJ; the low end is ~160 pJ/byte.
    ``metadata_decode_pj``: one index decode and operand-select mux, estimated as one
    8-bit add (0.03 pJ); not in the paper, an assumption stated in docs/simulator.md.
    """

    mac_pj: float = 0.23
    ifmap_sram_pj_per_byte: float = 2.5
    filter_sram_pj_per_byte: float = 2.5
    ofmap_sram_pj_per_byte: float = 2.5
    dram_pj_per_byte: float = 160.0
    metadata_decode_pj: float = 0.03


@dataclass(frozen=True)
class SparsitySupport:
    """What N:M patterns the PEs can skip zeros of.

    ``mode``: ``dense`` (none), ``fixed`` (exactly the listed ``patterns``, like the 2:4
    of sparse tensor cores) or ``flexible`` (any N:M with M <= ``max_m``, VEGETA/S4 style).
    """

    mode: str = "dense"
    patterns: tuple[tuple[int, int], ...] = ()
    max_m: int = 0

    def candidates(self) -> tuple[tuple[int, int], ...]:
        """Group sizes to try: (n, m) for fixed, (0, m) for flexible (n is read off the mask)."""
        if self.mode == "fixed":
            return self.patterns
        if self.mode == "flexible":
            return tuple((0, m) for m in range(2, self.max_m + 1))
        return ()

    @property
    def label(self) -> str:
        if self.mode == "fixed":
            return "fixed " + ",".join(f"{n}:{m}" for n, m in self.patterns)
        return f"flexible N:M, M<={self.max_m}" if self.mode == "flexible" else "dense"


@dataclass(frozen=True)
class HardwareConfig:
    """One accelerator: array, dataflow, clock, sparsity support, buffers, DRAM, energy.

    SRAM sizes are the whole double-buffered buffer (half is active, half refills).
    ``tech_node_nm`` scales the area model (``simulators.area``); energy stays 45 nm.
    """

    name: str = "custom"
    rows: int = 32
    cols: int = 32
    dataflow: str = "ws"
    clock_ghz: float = 1.0
    sparsity: SparsitySupport = field(default_factory=SparsitySupport)
    metadata_bits: int = 2
    metadata_decode_cycles: int = 1
    ifmap_sram_kib: float = 256.0
    filter_sram_kib: float = 256.0
    ofmap_sram_kib: float = 128.0
    word_bytes: int = 1
    dram_bandwidth_bytes_per_cycle: float = 32.0
    dram_latency_cycles: int = 100
    tech_node_nm: int = 45
    energy: EnergyTable = field(default_factory=EnergyTable)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "hw config") -> HardwareConfig:
        """Validate a YAML mapping; unknown or bad fields are a one-line ``UserError``."""
        if not isinstance(data, dict):
            raise UserError(f"{source}: expected a mapping of fields, got {type(data).__name__}")
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise UserError(f"{source}: unknown field {unknown[0]!r}; allowed: "
                            + ", ".join(sorted(allowed)))
        values = dict(data)
        values["sparsity"] = _sparsity(values.get("sparsity", {}), source)
        values["energy"] = _energy(values.get("energy", {}), source)
        cfg = cls(**values)
        _validate(cfg, source)
        return cfg

    def replace(self, **changes: Any) -> HardwareConfig:
        """A validated copy with some fields changed (``sparsity``/``energy`` may be dicts)."""
        data = self.as_dict()
        data.update(changes)
        return HardwareConfig.from_dict(data, source=f"{self.name} (changed)")

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sparsity"]["patterns"] = [f"{n}:{m}" for n, m in self.sparsity.patterns]
        return data

    @property
    def pes(self) -> int:
        return self.rows * self.cols


def _sparsity(raw: Any, source: str) -> SparsitySupport:
    if isinstance(raw, SparsitySupport):
        return raw
    if isinstance(raw, str):
        raw = {"mode": raw}
    if not isinstance(raw, dict):
        raise UserError(f"{source}: sparsity: got {raw!r}; allowed: a mapping "
                        "{mode: dense|fixed|flexible, patterns: [2:4], max_m: 8}")
    mode = raw.get("mode", "dense")
    if mode not in SPARSITY_MODES:
        raise UserError(f"{source}: sparsity.mode: got {mode!r}; allowed: {', '.join(SPARSITY_MODES)}")
    patterns = tuple(parse_nm(p, "sparsity.patterns") if not isinstance(p, (tuple, list))
                     else (int(p[0]), int(p[1])) for p in raw.get("patterns", ()) or ())
    max_m = raw.get("max_m", 0) or 0
    if mode == "fixed" and not patterns:
        raise UserError(f"{source}: sparsity.patterns: got none; allowed: a list such as "
                        "['2:4'] when mode is fixed")
    if mode == "flexible" and (not isinstance(max_m, int) or not 2 <= max_m <= 16):
        raise UserError(f"{source}: sparsity.max_m: got {max_m!r}; allowed: an integer "
                        "2..16 when mode is flexible")
    return SparsitySupport(mode, patterns if mode == "fixed" else (),
                           max_m if mode == "flexible" else 0)


def _energy(raw: Any, source: str) -> EnergyTable:
    if isinstance(raw, EnergyTable):
        return raw
    allowed = {f.name for f in fields(EnergyTable)}
    if not isinstance(raw, dict) or set(raw) - allowed:
        bad = sorted(set(raw) - allowed)[0] if isinstance(raw, dict) else raw
        raise UserError(f"{source}: energy: got {bad!r}; allowed fields: {', '.join(sorted(allowed))}")
    for key, value in raw.items():
        if not _is_number(value) or value < 0:
            raise UserError(f"{source}: energy.{key}: got {value!r}; allowed: a number >= 0 (pJ)")
    return EnergyTable(**{k: float(v) for k, v in raw.items()})


_POSITIVE_INT = ("rows", "cols", "word_bytes")
_NONNEG_INT = ("metadata_bits", "metadata_decode_cycles", "dram_latency_cycles",
               "tech_node_nm")
_POSITIVE_NUM = ("clock_ghz", "ifmap_sram_kib", "filter_sram_kib", "ofmap_sram_kib",
                 "dram_bandwidth_bytes_per_cycle")


def _validate(cfg: HardwareConfig, source: str) -> None:
    def bad(name: str, allowed: str) -> UserError:
        return UserError(f"{source}: {name}: got {getattr(cfg, name)!r}; allowed: {allowed}")

    if not isinstance(cfg.name, str) or not cfg.name:
        raise bad("name", "a non-empty string")
    for name in _POSITIVE_INT:
        value = getattr(cfg, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise bad(name, "an integer >= 1")
    for name in _NONNEG_INT:
        value = getattr(cfg, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise bad(name, "an integer >= 0")
    for name in _POSITIVE_NUM:
        if not _is_number(getattr(cfg, name)) or getattr(cfg, name) <= 0:
            raise bad(name, "a number > 0")
    if cfg.dataflow not in DATAFLOWS:
        raise bad("dataflow", " | ".join(DATAFLOWS))
    if cfg.tech_node_nm not in TECH_NODES_NM:
        raise bad("tech_node_nm", " | ".join(str(n) for n in TECH_NODES_NM)
                  + " (nodes with a sourced SRAM bit cell; simulators/area.py)")
    if cfg.word_bytes not in (1, 2, 4):
        raise bad("word_bytes", "1 (int8), 2 (fp16) or 4 (fp32)")
    if cfg.rows > 4096 or cfg.cols > 4096:
        raise bad("rows" if cfg.rows > 4096 else "cols", "at most 4096")
    largest_m = max([m for _, m in cfg.sparsity.candidates()], default=1)
    if cfg.sparsity.mode != "dense" and 2**cfg.metadata_bits < largest_m:
        need = (largest_m - 1).bit_length()
        raise bad("metadata_bits", f">= {need} to index a group of {largest_m}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def packaged_hw_configs() -> list[str]:
    """Names of the configs shipped in ``simulators/hw/``."""
    return sorted(p.stem for p in HW_DIR.glob("*.yaml"))


def load_hw_config(name_or_path: str | Path) -> HardwareConfig:
    """A packaged config name or a YAML file path -> ``HardwareConfig``."""
    import yaml

    text = str(name_or_path)
    path = Path(text)
    if not path.is_file():
        path = HW_DIR / f"{text}.yaml"
    if not path.is_file():
        raise UserError(f"hw config {text!r}: not a file or packaged config; packaged: "
                        + ", ".join(packaged_hw_configs()))
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if isinstance(data, dict):
        data.setdefault("name", path.stem)
    return HardwareConfig.from_dict(data, source=str(path))
