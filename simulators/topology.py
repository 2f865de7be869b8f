"""Networks as layer lists: SCALE-Sim topology CSVs in, one report per network out.

Entry points: ``read_topology(path_or_name) -> list[Layer]``,
``simulate_topology(array, layers, nm=None) -> TopologyReport`` (a report per layer) and
``summarize_topology`` (the same totals from one report per distinct layer, for sweeps). Two CSV formats, as
SCALE-Sim reads them (every row ends with a comma)::

    Layer, M, N, K,                                  # GEMM
    enc0_q, 128, 768, 768,
    enc0_h0_scores, 128, 128, 64, 1:1,

    Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,
    conv1, 224, 224, 7, 7, 3, 64, 2,

An optional last column gives the layer's weight pattern: ``N:M`` (weights are exactly
N:M), ``1:1`` (never pruned: e.g. attention scores, whose operands are both activations),
or nothing (the run's ``nm`` applies). Packaged topologies: ``bert-base`` (12 encoder
layers, 128 tokens, per-head attention GEMMs).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from simulators.hw_config import parse_nm
from simulators.mapping import Gemm
from simulators.report import GemmReport, TopologyReport
from simulators.systolic import SystolicArray
from suite.errors import UserError

TOPOLOGY_DIR = Path(__file__).parent / "topologies"
PACKAGED = {"bert-base": "bert_base.csv"}


@dataclass(frozen=True)
class Layer:
    """One GEMM of a network; ``nm`` None: follow the run; (1, 1): never pruned."""

    gemm: Gemm
    nm: tuple[int, int] | None = None


def read_topology(path_or_name: str | Path) -> list[Layer]:
    """A packaged name (``bert-base``) or a SCALE-Sim CSV path -> layers."""
    path = Path(TOPOLOGY_DIR / PACKAGED[str(path_or_name)]) if str(path_or_name) in PACKAGED \
        else Path(path_or_name)
    if not path.is_file():
        raise UserError(f"topology {str(path_or_name)!r}: no such file; packaged: "
                        + ", ".join(PACKAGED))
    lines = [line.strip() for line in path.read_text().splitlines()]
    rows = [(number, line) for number, line in enumerate(lines, 1) if line]
    if len(rows) < 2:
        raise UserError(f"{path}: no layers after the header row")
    header = _fields(path, *rows[0])
    conv = len(header) >= 7
    return [_layer(path, number, _fields(path, number, line), conv) for number, line in rows[1:]]


def _fields(path: Path, number: int, line: str) -> list[str]:
    if not line.endswith(","):
        # SCALE-Sim drops the last field of such a row without a word (often the sparsity).
        raise UserError(f"{path}:{number}: row does not end with ','; allowed: SCALE-Sim rows "
                        "end with a comma (without it SCALE-Sim silently drops the last column)")
    return [field.strip() for field in line.split(",")[:-1]]


def _layer(path: Path, number: int, fields: list[str], conv: bool) -> Layer:
    need = 8 if conv else 4
    if len(fields) not in (need, need + 1):
        raise UserError(f"{path}:{number}: {len(fields)} fields; allowed: {need} "
                        f"({'conv' if conv else 'GEMM'} layer) plus an optional N:M column")
    try:
        numbers = [int(v) for v in fields[1:need]]
    except ValueError:
        raise UserError(f"{path}:{number}: {fields[1:need]}; allowed: integers") from None
    if min(numbers) < 1:
        raise UserError(f"{path}:{number}: {numbers}; allowed: integers >= 1")
    nm = parse_nm(fields[need], f"{path}:{number} sparsity") if len(fields) > need else None
    if conv:
        return Layer(Gemm.from_conv(fields[0], *numbers), nm)
    m, n, k = numbers
    return Layer(Gemm(fields[0], m, n, k), nm)


def _pattern(layer: Layer, nm: tuple[int, int] | None) -> tuple[int, int] | None:
    pattern = layer.nm if layer.nm is not None else nm
    return None if pattern is None or pattern[0] == pattern[1] else pattern


def _distinct(array: SystolicArray, layers: list[Layer], nm, compare_dense: bool):
    """One report per distinct layer (shape, conv input, pattern) and, per layer, its key."""
    cache: dict[tuple, GemmReport] = {}
    keys = []
    for layer in layers:
        pattern, gemm = _pattern(layer, nm), layer.gemm
        key = (gemm.m, gemm.n, gemm.k, gemm.ifmap_words, pattern)
        if key not in cache:
            cache[key] = array.simulate_gemm(gemm, nm=pattern, compare_dense=compare_dense)
        keys.append(key)
    return cache, keys


def simulate_topology(array: SystolicArray, layers: list[Layer],
                      nm: tuple[int, int] | None = None,
                      compare_dense: bool = True) -> TopologyReport:
    """Every layer once; identical layers (same shape and pattern) are simulated once."""
    cache, keys = _distinct(array, layers, nm, compare_dense)
    reports = [dataclasses.replace(cache[key], name=layer.gemm.name)
               for key, layer in zip(keys, layers, strict=True)]
    return TopologyReport(array.cfg.name, tuple(reports))


def summarize_topology(array: SystolicArray, layers: list[Layer],
                       nm: tuple[int, int] | None = None,
                       compare_dense: bool = True) -> TopologyReport:
    """The same totals as ``simulate_topology``, holding one report per distinct layer with
    its count (no per-layer copies: what sweeps over thousands of configs need)."""
    cache, keys = _distinct(array, layers, nm, compare_dense)
    counts = {key: keys.count(key) for key in cache}
    return TopologyReport(array.cfg.name, tuple(cache.values()), tuple(counts.values()))
