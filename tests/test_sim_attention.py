"""Attention on ``sim:`` devices: dense is the sum of its GEMMs, block-sparse runs the CPU
kernel's own masks and gets cheaper with the budget, and a harness run gives ok rows."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.attention_harness import attention_gemms, block_selection, dense_selection
from simulators.hw_config import load_hw_config
from simulators.mapping import Gemm
from simulators.systolic import SystolicArray
from suite.config import parse_suite
from suite.context import KernelContext
from suite.devices import CpuDevice, Peaks
from suite.errors import Unsupported
from suite.plan import make_plan
from suite.records import read_records
from suite.registry import find_kernel, get_family, load_plugins, make_device
from suite.report import write_reports
from suite.runner import RECORDS_FILE, run_plan
from suite.workloads.attention_batch import kept_mask

load_plugins()
HW = "sim:sparse-tc-32x32"
SMALL = {"length": 256, "layers": [2, 20], "heads": 4, "kv_heads": 2, "head_dim": 32}


def instance(phase="prefill", budget=0.125, **params):
    queries = 2 if phase == "decode" else 1
    return get_family("attention").instantiate(
        {**SMALL, "phase": phase, "budget": budget, "queries": queries, **params}, 0)


def prepare(kernel, inst, device=HW, options=None):
    ctx = KernelContext(make_device(device), options=options or {})
    kind = device.split(":")[0]
    return find_kernel("attention", kernel, kind).prepare(inst, inst.build_inputs(), ctx)


def checked(inst, prepared, batch):
    inputs = inst.build_inputs()
    out = prepared.to_host(prepared.run(prepared.put(batch)))
    return out, inst.check(out, inst.reference(inputs, batch), inputs, prepared, batch=batch)


def dense_array():
    return SystolicArray.from_config(load_hw_config("sparse-tc-32x32")).dense


def by_hand(phase):
    """The dense GEMMs of ``SMALL``, written out: prefill per head and 64-row block a over
    64 (a + 1) keys; decode per KV group (2 heads stacked) and query over pos + 1 keys."""
    if phase == "prefill":
        shapes = [(64, 64 * (a + 1)) for _ in range(4) for a in range(4)]
    else:
        shapes = [(2, pos + 1) for _ in range(2) for pos in (254, 255)]
    return [g for m, n in shapes for g in (Gemm("s", m=m, n=n, k=32), Gemm("v", m=m, n=32, k=n))]


@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_dense_cycles_are_the_sum_of_its_gemms_closed_forms(phase):
    prepared = prepare("dense", instance(phase))
    reports = [dense_array().simulate_gemm(g, compare_dense=False) for g in by_hand(phase)]
    assert prepared.info["total_cycles"] == sum(r.total_cycles for r in reports)
    assert prepared.info["gemms"] == len(reports)
    assert prepared.simulated_time_s == pytest.approx(sum(r.time_s for r in reports))
    assert prepared.energy_j == pytest.approx(sum(r.energy_j for r in reports))
    assert prepared.flops == 2.0 * sum(r.macs for r in reports)


@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_block_sparse_cycles_shrink_with_the_budget_and_equal_dense_when_all_are_kept(phase):
    pytest.importorskip("numba")
    dense = prepare("dense", instance(phase, length=512)).info["total_cycles"]
    cycles = [prepare("block-sparse", instance(phase, budget, length=512)).info["total_cycles"]
              for budget in (64, 192, 320, 512)]  # prefill 2, 3, 5, 8 of 8 blocks
    assert all(a < b for a, b in zip(cycles, cycles[1:], strict=False)) and cycles[0] < 0.6 * dense
    assert cycles[-1] == dense
    assert prepare("block-sparse", instance(phase, 1.0)).info["speedup_vs_dense"] == 1.0


@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_the_mask_is_the_cpu_block_sparse_kernels_and_so_is_its_accuracy(phase):
    pytest.importorskip("numba")
    inst = instance(phase, 0.25, sample_rows=64)
    cpu = prepare("block-sparse", inst, device="cpu")
    sim = prepare("block-sparse", inst)
    for batch in inst.batches(inst.build_inputs(), 2):
        (cpu_out, cpu_check), (sim_out, sim_check) = checked(inst, cpu, batch), \
            checked(inst, sim, batch)
        assert cpu_check.valid and sim_check.valid, (cpu_check.reason, sim_check.reason)
        assert type(sim_out.kept) is type(cpu_out.kept)
        for h in range(4):
            np.testing.assert_array_equal(kept_mask(sim_out.kept, batch, 0, h),
                                          kept_mask(cpu_out.kept, batch, 0, h))
        for field in ("blocks", "counts") if phase == "prefill" else ("count", "total"):
            np.testing.assert_array_equal(getattr(sim_out.kept, field),
                                          getattr(cpu_out.kept, field))
        assert sim_check.accuracy["recall"] == pytest.approx(cpu_check.accuracy["recall"])
        assert sim_check.accuracy["density"] == cpu_check.accuracy["density"]
        np.testing.assert_allclose(sim_out.out, cpu_out.out, atol=1e-4)


def test_prefill_tiles_are_the_kept_blocks_of_each_head():
    pytest.importorskip("numba")
    from kernels.attention.common import method_budget

    inst = instance("prefill", 0.25)
    batch = inst.batches(inst.build_inputs(), 1)[0]
    selection = block_selection(batch, "prefill", method_budget(inst, "block-sparse", {}))
    kept = selection.kept
    for tile in selection.tiles:
        h, a = tile.heads[0], tile.rows[0] // 64
        blocks = np.unique(tile.keys // 64)
        np.testing.assert_array_equal(blocks, kept.blocks[0, h, a, :kept.counts[0, h, a]])
    dense = dense_selection(batch, "prefill")
    assert sum(t.keys.size for t in selection.tiles) < sum(t.keys.size for t in dense.tiles)
    gemms = attention_gemms(selection.tiles, 32)
    assert sum(count for _, count in gemms) == 2 * len(selection.tiles)


@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_window_validates_and_runs_on_an_array_without_sparsity(phase):
    inst = instance(phase, 32)
    dense = prepare("dense", inst, device="sim:dense-32x32")
    window = prepare("window", inst, device="sim:dense-32x32", options={"sinks": 2})
    _, check = checked(inst, window, inst.batches(inst.build_inputs(), 1)[0])
    assert check.valid and 0 < check.accuracy["density"] < 0.5
    assert window.semantics["sinks"] == 2 and window.semantics["window"] == 30
    assert window.simulated_time_s < dense.simulated_time_s
    assert window.energy_j < dense.energy_j


def test_a_cpu_device_or_a_bad_option_is_a_skip_with_the_reason():
    inst = instance()
    with pytest.raises(Unsupported, match="needs a sim"):
        find_kernel("attention", "window", "sim").prepare(
            inst, inst.build_inputs(), KernelContext(CpuDevice("cpu")))
    with pytest.raises(Unsupported, match="page=24"):
        prepare("block-sparse", inst, options={"page": 24})
    with pytest.raises(Unsupported, match="option 'window'"):
        prepare("window", inst, options={"window": 3})


SUITE = """
name: attention-sim
defaults: {warmup: 0, min_repeats: 2, max_repeats: 3, min_time_s: 0.0, seed: 0}
workloads:
  - family: attention
    grid: {phase: [prefill, decode], length: [200], budget: [32, 0.5], heads: [4],
           kv_heads: [2], head_dim: [32], layers: [[1, 20]]}
systems:
  - {device: cpu, kernel: block-sparse}
  - {device: "sim:sparse-tc-32x32", kernel: block-sparse, family: attention}
  - {device: "sim:sparse-tc-32x32", kernel: window, family: attention}
"""


def test_a_harness_run_gives_ok_sim_rows_in_every_report(tmp_path, monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setattr(CpuDevice, "measure_peaks", lambda self: Peaks(1e11, 1e10, "fixed"))
    cfg = parse_suite(SUITE, "attention-sim.yaml")
    run_plan(make_plan(cfg), cfg, tmp_path)
    records = read_records(tmp_path / RECORDS_FILE)
    sim = [r for r in records if r.device == HW]
    assert {r.kernel for r in sim} == {"dense", "block-sparse", "window"}
    assert len(sim) == 4 * 3
    assert all(r.status == "ok" for r in records), [(r.system, r.reason) for r in records]
    for r in sim:
        assert r.energy_j > 0 and r.extra["total_cycles"] > 0 and r.speedup > 0
        assert 0 < r.accuracy["density"] <= 1 and 0 < r.accuracy["recall"] <= 1 + 1e-12
    small = [r for r in sim if r.kernel == "window" and r.params["budget"] == 32]
    assert all(r.speedup > 1.5 for r in small)
    paths = {p.name for p in write_reports(tmp_path)}
    assert {"speedup.md", "cap.md", "predicted_vs_achieved.md"} <= paths
    assert f"{HW}/block-sparse" in (tmp_path / "speedup.md").read_text()
    assert "block-sparse" in (tmp_path / "predicted_vs_achieved.md").read_text()
