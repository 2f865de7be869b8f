"""Wires the simulator into the harness: the ``sim`` device kind and two SpMM kernels on it.

``make_device("sim:sparse-tc-32x32")`` (a packaged config name or a YAML path) gives a
``SimDevice`` whose time comes from the model. Kernels on ``sim``:

- ``spmm/dense``: the array runs the weights dense (the speedup baseline);
- ``spmm/nm``: the PEs skip zeros of the mask's N:M structure as the config allows (tiles
  no supported pattern covers run dense); ``Unsupported`` on a config without sparsity.

Mapping: SpMM ``Y (M x N) = W (M x K) @ X (K x N)`` is the simulator's GEMM with the
weights as the filter operand (stationary under ws) — GEMM ``m`` = N activation columns,
``n`` = M output features, ``k`` = K — and the mask's rows as the filters' N:M groups.
Both kernels also compute the output from what the hardware holds (the nm kernel from
compressed values + in-group indices), so the harness validates it against float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kernels.spmm.formats import nm_compress
from simulators.hw_config import HardwareConfig, load_hw_config, packaged_hw_configs
from simulators.mapping import Gemm
from simulators.report import GemmReport
from simulators.sparsity import nm_matmul
from simulators.systolic import SystolicArray
from suite.devices import Device, Peaks
from suite.errors import Unsupported, UserError
from suite.registry import register_device_kind, register_kernel
from suite.workload import Prepared


class SimDevice(Device):
    """The simulated accelerator of one hardware config; time = simulated cycles / clock."""

    kind = "sim"
    deterministic = True

    def __init__(self, name: str, cfg: HardwareConfig):
        super().__init__(name)
        self.cfg = cfg
        self.array = SystolicArray.from_config(cfg)

    def time_calls(self, run, feed, start, number):
        raise RuntimeError("a simulated device is not timed: its time is the model's "
                           "(Prepared.simulated_time_s)")

    def measure_peaks(self) -> Peaks:
        hz = self.cfg.clock_ghz * 1e9
        return Peaks(2.0 * self.cfg.rows * self.cfg.cols * hz,
                     self.cfg.dram_bandwidth_bytes_per_cycle * hz, "from hw config")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "hw": self.cfg.as_dict()}

    @property
    def price_key(self) -> str:
        return "sim"


def make_sim_device(arg: str) -> SimDevice:
    """``sim:<packaged name | YAML path>`` -> ``SimDevice``."""
    if not arg:
        raise UserError("device 'sim': no hw config; allowed: sim:<name or YAML path>, "
                        "packaged: " + ", ".join(packaged_hw_configs()))
    return SimDevice(f"sim:{arg}", load_hw_config(arg))


register_device_kind("sim", make_sim_device,
                     "simulated N:M systolic array: sim:<hw config name or YAML path>; "
                     "packaged: " + ", ".join(packaged_hw_configs()), usage="sim:<hw-config>")


def _gemm(instance) -> Gemm:
    return Gemm(instance.label, m=instance.n, n=instance.m, k=instance.k)


def _device(ctx) -> SimDevice:
    if not isinstance(ctx.device, SimDevice):
        raise Unsupported(f"needs a sim:<hw> device, got {ctx.device.name}")
    return ctx.device


@register_kernel("spmm", "dense", device="sim",
                 description="simulated systolic array, weights run dense (baseline)")
def sim_dense(instance, inputs, ctx) -> Prepared:
    device = _device(ctx)
    report = device.array.dense.simulate_gemm(_gemm(instance), compare_dense=False)
    weight64 = inputs.weight.astype(np.float64)
    item = device.cfg.word_bytes  # what the modelled hardware moves per element
    bytes_min = item * (instance.m * instance.k + instance.k * instance.n + instance.m * instance.n)
    return _prepared(report, lambda x: (weight64 @ x.astype(np.float64)).astype(instance.dtype),
                     bytes_min)


@register_kernel("spmm", "nm", device="sim",
                 description="simulated systolic array skipping N:M zeros the hw supports")
def sim_nm(instance, inputs, ctx) -> Prepared:
    device = _device(ctx)
    if device.cfg.sparsity.mode == "dense":
        raise Unsupported(f"hw config {device.cfg.name} supports no sparsity (sparsity.mode: dense)")
    gemm, mask = _gemm(instance), np.asarray(inputs.mask, dtype=bool)
    plan = device.array.plan(gemm, mask)
    report = device.array.simulate_gemm(gemm, weight_mask=mask)
    weight = inputs.weight
    item = device.cfg.word_bytes  # what the modelled hardware moves per element
    slots = float((plan.k_compressed * plan.filters).sum())
    meta = slots * device.cfg.metadata_bits / 8 if plan.sparse.any() else 0.0
    bytes_min = slots * item + meta + item * (instance.k * instance.n + instance.m * instance.n)
    return _prepared(report, lambda x: _compressed_output(weight, x, plan).astype(instance.dtype),
                     bytes_min)


def _compressed_output(weight: np.ndarray, x: np.ndarray, plan) -> np.ndarray:
    """``W @ x`` tile by tile from the form each tile is stored in (values + indices)."""
    out = np.empty((weight.shape[0], x.shape[1]), dtype=np.float64)
    x64 = x.astype(np.float64)
    start = 0
    for size, n, m in zip(plan.filters, plan.n, plan.m, strict=True):
        rows = slice(start, start + int(size))
        if m == 1:
            out[rows] = weight[rows].astype(np.float64) @ x64
        else:
            out[rows] = nm_matmul(nm_compress(weight[rows], int(n), int(m)), x64)
        start += int(size)
    return out


def _prepared(report: GemmReport, run, bytes_min: float) -> Prepared:
    """``run(x)`` computes the output from what the hardware holds; time is the model's."""
    info = {key: value for key, value in report.as_dict().items()
            if key in _INFO_KEYS}
    return Prepared(run=run, flops=2.0 * report.macs, bytes_min=bytes_min,
                    simulated_time_s=report.time_s, energy_j=report.energy_j, info=info)


_INFO_KEYS = ("hw", "dataflow", "total_cycles", "compute_cycles", "stall_cycles", "folds",
              "pe_utilization", "mapping_efficiency", "dram_bytes", "metadata_dram_bytes",
              "fallback_fraction", "tile_patterns", "k_compressed_mean", "energy_breakdown_j",
              "ifmap_sram_reads", "filter_sram_reads", "ofmap_sram_writes",
              "speedup_vs_dense", "energy_ratio_vs_dense")
