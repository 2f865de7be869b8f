"""Captured Q/K/V and layer inputs, and SpMM instances on a real layer: on a tiny GGUF
model and a stand-in plays folder, through the same code as SmolLM2."""

import numpy as np
import pytest

from suite.context import KernelContext
from suite.data import capture, text
from suite.data.layers import layer_activations, layer_shape, layer_weight, parse_layer_ref
from suite.data.tiny import write_tiny_gguf, write_tiny_plays
from suite.errors import ParamError
from suite.registry import find_kernel, get_family, make_device


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSECAP_CACHE", str(tmp_path / "cache"))
    folder = write_tiny_plays(tmp_path / "plays")
    monkeypatch.setattr(text, "plays_folder", lambda: folder)
    path = tmp_path / "tiny.gguf"
    return str(path), write_tiny_gguf(path)


def test_qkv_are_captured_per_layer_and_head_then_read_from_the_cache(tiny, monkeypatch):
    model, _ = tiny
    qkv = capture.capture_qkv(model, layers=[1, 0], tokens=40)
    assert qkv[0].q.shape == (4, 40, 8) and qkv[1].k.shape == (2, 40, 8)
    assert qkv[1].v.dtype == np.float32
    monkeypatch.setattr(capture, "llama_model", lambda spec: pytest.fail("recomputed"))
    again = capture.capture_qkv(model, layers=[0, 1], tokens=40)
    np.testing.assert_array_equal(again[1].q, qkv[1].q)


def test_linear_inputs_come_from_consecutive_calibration_windows(tiny):
    model, _ = tiny
    inputs = capture.capture_linear_inputs(model, ["layer1.mlp-down", "layer0.attn-q"],
                                           tokens=300, context=128)
    assert inputs["layer1.mlp-down"].shape == (300, 64)
    assert inputs["layer0.attn-q"].shape == (300, 32)
    longer = capture.capture_linear_inputs(model, ["layer0.attn-q"], tokens=600, context=128)
    np.testing.assert_allclose(longer["layer0.attn-q"][:300], inputs["layer0.attn-q"],
                               atol=1e-6)


def test_a_layer_reference_gives_shape_weight_and_activations(tiny):
    model, weights = tiny
    ref = parse_layer_ref(f"{model}.layer1.mlp-up")
    assert layer_shape(ref) == (64, 32) and ref.label == "tiny.gguf.layer1.mlp-up"
    np.testing.assert_array_equal(layer_weight(ref), weights["layer1.mlp-up"])
    assert layer_activations(ref, 50).shape == (32, 50)
    for bad, why in [(f"{model}.layer2.mlp-up", "layer 0..1"),
                     (f"{model}.layer0.mlp", "random, or <model>.layer<i>"),
                     ("nowhere.gguf.layer0.mlp-up", "no such file or folder")]:
        with pytest.raises(ValueError, match=why):
            parse_layer_ref(bad)


def test_spmm_on_a_real_layer_is_pruned_real_weights_times_its_inputs(tiny):
    model, weights = tiny
    family = get_family("spmm")
    instance = family.instantiate({"weights": f"{model}.layer1.mlp-up", "n": 24,
                                   "pattern": "2:4"}, 0)
    assert (instance.m, instance.k) == (64, 32) and instance.data_artifacts() == ("plays",)
    inputs = instance.build_inputs()
    kept = inputs.weight != 0
    np.testing.assert_array_equal(inputs.weight[kept], weights["layer1.mlp-up"][kept])
    assert kept.reshape(64, 8, 4).sum(axis=2).max() == 2
    batches = instance.batches(inputs, 3)
    assert batches[0] is inputs.x and not np.array_equal(batches[1], batches[0])
    ctx = KernelContext(device=make_device("cpu"))
    for kernel in ("dense", "nm-numba", "scipy-csr"):
        prep = find_kernel("spmm", kernel, "cpu").prepare(instance, inputs, ctx)
        check = instance.check(prep.to_host(prep.run(batches[2])),
                               instance.reference(inputs, batches[2]), inputs, prep)
        assert check.valid, f"{kernel}: {check.reason}"


def test_weights_random_keeps_todays_ids_and_a_real_layer_fixes_the_shape(tiny):
    family = get_family("spmm")
    random = family.instantiate({"shape": [8, 8], "pattern": "2:4"}, 0)
    assert "weights" not in random.instance_id and random.data_artifacts() == ()
    real = family.instantiate({"weights": "smollm2.layer12.mlp-up", "pattern": "2:4"}, 0)
    assert (real.m, real.k) == (1536, 576) and real.data_artifacts() == ("smollm2", "plays")
    assert real.label.startswith("smollm2.layer12.mlp-up 1536x576x256")
    with pytest.raises(ParamError, match="shape: got .*no shape with weights"):
        family.instantiate({"weights": "smollm2.layer12.mlp-up", "shape": [8, 8],
                            "pattern": "2:4"}, 0)
    with pytest.raises(ParamError, match="scale: got 2; allowed: 1 with weights"):
        family.instantiate({"weights": "smollm2.layer12.mlp-up", "scale": 2,
                            "pattern": "2:4"}, 0)
    with pytest.raises(ParamError, match=r"shape: got None; allowed: .*required with "
                                         "weights: random"):
        family.instantiate({"pattern": "2:4"}, 0)
