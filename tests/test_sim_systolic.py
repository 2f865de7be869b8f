"""The cycle engine on small, hand-checkable cases: N:M compression, fallback, trace, stalls."""

from __future__ import annotations

import time

import numpy as np
import pytest

from simulators.hw_config import HardwareConfig, load_hw_config
from simulators.mapping import Gemm
from simulators.systolic import SystolicArray, simulate_gemm
from suite.errors import UserError
from suite.workloads.spmm_patterns import make_mask, parse_pattern


def array(dataflow="ws", sparsity="2:4", **fields) -> SystolicArray:
    support = {"mode": "dense"} if sparsity == "dense" else {"mode": "fixed", "patterns": [sparsity]}
    return SystolicArray.from_config(HardwareConfig.from_dict(
        {"name": "t", "rows": 32, "cols": 32, "dataflow": dataflow, "sparsity": support, **fields}))


def mask(n, k, pattern, seed=0):
    rng = np.random.default_rng(seed)
    return make_mask(rng.standard_normal((n, k)), parse_pattern(pattern), "magnitude", rng)


def test_worked_example_ws_2_4_halves_the_k_folds():
    # GEMM 128 tokens x 64 outputs x K=256 on 32x32, ws: fold = 2R + C + T - 2 = 222 cycles.
    report = simulate_gemm(array("ws"), 128, 64, 256, nm=(2, 4))
    dense_compute = 2 * 8 * 222 - 1            # 2 column folds x ceil(256/32) row folds
    assert report.compute_cycles == 2 * 4 * (222 + 1) - 1  # K'=128: 4 row folds, +1 decode
    assert array("ws", "dense").simulate_gemm(Gemm("g", 128, 64, 256)).compute_cycles == dense_compute
    assert report.k_compressed_mean == 128
    assert report.metadata_sram_bytes == 64 * 128 * 2 / 8  # 2 index bits per kept weight
    assert dense_compute / report.compute_cycles == pytest.approx(1.99, abs=0.01)
    # Each sparse fold consumes twice the activations in the same time, so DRAM stalls
    # take back part of the gain: the whole-run speedup is lower than the compute one.
    assert 1.4 < report.speedup_vs_dense < 1.99 and report.energy_ratio_vs_dense < 1


def test_worked_example_os_2_4_shortens_the_stream():
    # os streams K in time: fold = T + R + C - 2 with T = 128 instead of 256.
    report = simulate_gemm(array("os"), 128, 64, 256, nm=(2, 4))
    assert report.compute_cycles == 8 * (128 + 62 + 1) - 1
    assert report.dense_total_cycles > report.total_cycles


def test_real_mask_plans_like_its_pattern():
    from_mask = simulate_gemm(array(), 128, 64, 256, weight_mask=mask(64, 256, "2:4"))
    from_nm = simulate_gemm(array(), 128, 64, 256, nm=(2, 4))
    assert from_mask.tile_patterns == {"2:4": 2} and from_mask.fallback_fraction == 0
    assert from_mask.compute_cycles == from_nm.compute_cycles


def test_unsupported_tiles_fall_back_to_dense():
    mixed = mask(64, 256, "2:4")
    mixed[:32] = mask(32, 256, "unstructured(0.5)", seed=1)  # first column tile is not 2:4
    report = simulate_gemm(array(), 128, 64, 256, weight_mask=mixed)
    assert report.tile_patterns == {"2:4": 1, "dense": 1}
    assert report.fallback_fraction == 0.5


def test_densest_supported_pattern_covers_sparser_weights():
    # 1:4 weights on 2:4 hardware run as 2:4; flexible hardware finds 1:4 (or 2:8).
    assert simulate_gemm(array(), 128, 64, 256, nm=(1, 4)).k_compressed_mean == 128
    flexible = SystolicArray.from_config(load_hw_config("flexible-32x32"))
    assert simulate_gemm(flexible, 128, 64, 256, weight_mask=mask(64, 256, "1:4")
                         ).k_compressed_mean == 64


def test_trace_counts_every_mac_once_and_every_cycle_stalls_included():
    report = simulate_gemm(array("os"), 40, 36, 24, nm=(2, 4), trace=True)
    assert report.trace.sum() == report.macs
    assert report.trace.max() <= 32 * 32
    assert len(report.trace) == report.total_cycles + 1  # from the cycle-stepped engine
    assert (report.trace == 0).sum() >= report.stall_cycles


def test_dram_stalls_follow_bandwidth_and_latency():
    fast = simulate_gemm(array(dram_bandwidth_bytes_per_cycle=1e6, dram_latency_cycles=0),
                         256, 256, 256)
    slow = simulate_gemm(array(dram_bandwidth_bytes_per_cycle=1), 256, 256, 256)
    assert fast.stall_cycles <= 2 and fast.compute_cycles == slow.compute_cycles
    assert slow.stall_cycles > slow.compute_cycles  # 1 byte/cycle cannot feed 1024 PEs
    assert slow.total_cycles == slow.compute_cycles + slow.stall_cycles
    assert slow.dram_bytes == 3 * 256 * 256  # each operand fits on chip: moved once


def test_bad_mask_shape_is_a_user_error():
    with pytest.raises(UserError, match=r"weight_mask: got bool \(3, 3\)"):
        simulate_gemm(array(), 8, 4, 4, weight_mask=np.ones((3, 3), dtype=bool))


def test_a_layer_simulates_in_about_a_millisecond():
    a = array()
    start = time.perf_counter()
    for _ in range(20):
        simulate_gemm(a, 128, 3072, 768, nm=(2, 4), compare_dense=False)
    assert (time.perf_counter() - start) / 20 < 0.02


def test_a_tile_larger_than_half_its_buffer_streams_every_fold():
    # ws, one row fold (K = 64 rows), two column folds: the 4 KiB activation tile is reused
    # across them only if it fits in half the ifmap buffer.
    roomy = simulate_gemm(array(rows=64, dataflow="ws"), 64, 64, 64, compare_dense=False)
    tight = simulate_gemm(array(rows=64, dataflow="ws", ifmap_sram_kib=1), 64, 64, 64,
                          compare_dense=False)
    assert roomy.ifmap_dram_bytes == 64 * 64
    assert tight.ifmap_dram_bytes == 2 * 64 * 64


def test_a_partial_last_group_keeps_only_its_own_weights():
    # K = 5 with 2:4: one full group (2 slots) and a last group of 1 weight (1 slot, not 2).
    report = simulate_gemm(array("os", rows=8, cols=8), 8, 8, 5, nm=(2, 4))
    assert report.k_compressed_mean == 3
    assert report.compute_cycles == 3 + 8 + 8 - 2 + 1 - 1  # T = K' = 3, one decode cycle
    # K = 1: a 2:4 layer this short cannot skip anything; it runs dense.
    assert simulate_gemm(array("os"), 8, 8, 1, nm=(2, 4)).tile_patterns == {"dense": 1}


def test_input_stationary_keeps_a_filter_that_fits_on_chip():
    # is: 64 column folds (2,048 activation rows / 32) over one 4 KiB filter. It fits in half
    # the 256 KiB filter buffer, so it is fetched once, not once per column fold.
    report = simulate_gemm(array("is", "dense"), 2048, 64, 64, compare_dense=False)
    assert report.filter_dram_bytes == 64 * 64
    assert report.folds == 64 * 2


def test_a_fold_reads_whole_groups_of_activations():
    # 3:8 on 4 rows: fold 0 holds slots 0-3, i.e. groups 0 and 1: activations 0..15.
    flexible = SystolicArray.from_config(HardwareConfig.from_dict(
        {"rows": 4, "cols": 4, "sparsity": {"mode": "flexible", "max_m": 8},
         "metadata_bits": 3}))
    report = simulate_gemm(flexible, 10, 4, 16, nm=(3, 8), compare_dense=False)
    assert report.tile_patterns == {"3:8": 1} and report.folds == 2  # K' = 6: 2 row folds
    assert report.ifmap_sram_reads == 10 * 16 + 10 * 8  # fold 0: groups 0-1; fold 1: group 1


def test_a_one_pe_array_runs_a_one_mac_layer():
    one = SystolicArray.from_config(HardwareConfig.from_dict({"rows": 1, "cols": 1,
                                                              "dataflow": "os"}))
    report = simulate_gemm(one, 1, 1, 1)
    assert report.compute_cycles == 0 and report.macs == 1
