"""Published speedups of the designs the presets are named after, beside ours.

Entry point: ``compare_presets(layers) -> list[dict]``: per published claim, the preset,
the pattern, the published speedup and what it measures, and ours on the same layers:
compute-only (no DRAM stalls) and whole-run speedups over the same array dense, and for a
training claim, a training step (forward, backward-data and weight-gradient GEMMs of every
layer). Cost: a few closed-form network simulations (milliseconds each).
"""

from __future__ import annotations

from dataclasses import dataclass

from simulators.hw_config import load_hw_config
from simulators.mapping import Gemm
from simulators.systolic import SystolicArray
from simulators.topology import Layer, summarize_topology


@dataclass(frozen=True)
class Claim:
    preset: str
    nm: tuple[int, int]
    speedup: float
    measures: str
    source: str
    training: bool = False


CLAIMS = (
    Claim("a100-sparse-tc", (2, 4), 2.0, "peak math throughput, 2:4 sparse over dense",
          "NVIDIA, 'Exploiting NVIDIA Ampere Structured Sparsity with cuSPARSELt' (2020)"),
    Claim("vegeta", (2, 4), 2.20, "DNN layers over a dense CPU matrix engine (1.09x at dense)",
          "Jeong et al., VEGETA, HPCA 2023"),
    Claim("vegeta", (1, 4), 3.74, "DNN layers over a dense CPU matrix engine (1.09x at dense)",
          "Jeong et al., VEGETA, HPCA 2023"),
    Claim("sat-2to8", (2, 8), 1.75, "average DNN training speedup over dense training (FPGA)",
          "Fang et al., SAT (2023)", training=True),
)


def training_step(layers: list[Layer]) -> list[Layer]:
    """Forward Y = X W^T, backward-data dX = dY W (W^T keeps the pattern: bidirectional
    pruning, as SAT's BDWP), weight gradient dW = dY^T X (dense: two dense operands)."""
    step = []
    for layer in layers:
        g = layer.gemm
        step += [layer, Layer(Gemm(f"{g.name}.dx", g.m, g.k, g.n), layer.nm),
                 Layer(Gemm(f"{g.name}.dw", g.n, g.k, g.m), (1, 1))]
    return step


def _speedups(preset: str, layers: list[Layer], nm: tuple[int, int]) -> tuple[float, float]:
    array = SystolicArray.from_config(load_hw_config(preset))
    sparse = summarize_topology(array, layers, nm=nm)
    dense = summarize_topology(array.dense, layers, compare_dense=False)
    return dense.compute_cycles / sparse.compute_cycles, dense.total_cycles / sparse.total_cycles


def compare_presets(layers: list[Layer]) -> list[dict]:
    rows = []
    for claim in CLAIMS:
        run = training_step(layers) if claim.training else layers
        compute, whole = _speedups(claim.preset, run, claim.nm)
        rows.append({"preset": claim.preset, "weights": f"{claim.nm[0]}:{claim.nm[1]}",
                     "published": claim.speedup, "measures": claim.measures,
                     "source": claim.source, "ours_compute": compute, "ours_total": whole,
                     "workload": "training step" if claim.training else "inference"})
    return rows
