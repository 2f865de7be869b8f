"""SpMM instances on ``sim:`` devices: validated output, nm faster than dense, clear skips."""

from __future__ import annotations

import pytest

from suite.errors import Unsupported, UserError
from suite.registry import KernelContext, find_kernel, get_family, make_device


def run(kernel: str, device: str, params: dict):
    instance = get_family("spmm").instantiate(params, 0)
    inputs = instance.build_inputs()
    dev = make_device(device)
    prepared = find_kernel("spmm", kernel, "sim").prepare(instance, inputs, KernelContext(dev))
    x = inputs.x
    check = instance.check(prepared.to_host(prepared.run(x)), instance.reference(inputs, x),
                           inputs, prepared)
    return dev, prepared, check


def test_nm_output_validates_and_beats_dense():
    params = {"shape": [64, 64], "n": 32, "pattern": "2:4"}
    device, nm, check = run("nm", "sim:sparse-tc-32x32", params)
    _, dense, dense_check = run("dense", "sim:sparse-tc-32x32", params)
    assert check.valid and dense_check.valid
    assert nm.simulated_time_s < dense.simulated_time_s
    assert nm.info["tile_patterns"] == {"2:4": 2} and nm.info["fallback_fraction"] == 0
    assert nm.energy_j < dense.energy_j and nm.flops == dense.flops / 2


def test_unstructured_mask_falls_back_and_still_validates():
    _, prepared, check = run("nm", "sim:sparse-tc-32x32",
                             {"shape": [64, 96], "n": 16, "pattern": "unstructured(0.3)",
                              "dtype": "float64"})
    assert check.valid
    assert prepared.info["fallback_fraction"] == 1.0


def test_flexible_hardware_runs_1_8():
    _, prepared, check = run("nm", "sim:flexible-32x32",
                             {"shape": [64, 128], "n": 8, "pattern": "1:8"})
    assert check.valid and prepared.info["k_compressed_mean"] == 16


def test_nm_on_dense_hardware_is_unsupported():
    with pytest.raises(Unsupported, match="supports no sparsity"):
        run("nm", "sim:dense-32x32", {"shape": [32, 32], "n": 8, "pattern": "2:4"})


def test_device_is_deterministic_and_describes_its_config():
    device = make_device("sim:sparse-tc-32x32")
    assert device.deterministic and device.price_key == "sim"
    assert device.describe()["hw"]["rows"] == 32
    peaks = device.measure_peaks()
    assert peaks.flops_per_s == 2 * 32 * 32 * 1e9 and peaks.method == "from hw config"


def test_unknown_config_lists_packaged_ones():
    with pytest.raises(UserError, match="packaged: .*dense-32x32"):
        make_device("sim:nope")


@pytest.mark.parametrize("kernel", ["dense", "nm"])
def test_the_floor_counts_the_bytes_the_modelled_hardware_moves(kernel):
    # float32 operands on an int8 datapath (word_bytes 1): the model moves 1 byte per
    # element, so counting 4 put the decode 1:8 row 5% "below" its own floor (INVALID)
    params = {"shape": [2048, 2048], "n": 16, "pattern": "1:8"}
    device, prepared, check = run(kernel, "sim:flexible-32x32", params)
    peaks = device.measure_peaks()
    floor = max(prepared.flops / peaks.flops_per_s, prepared.bytes_min / peaks.bytes_per_s)
    assert check.valid and floor <= prepared.simulated_time_s
    assert prepared.bytes_min <= prepared.info["dram_bytes"] * 1.001
