"""Layer lists in SCALE-Sim's CSV formats and whole-network simulation."""

from __future__ import annotations

import pytest

from simulators.hw_config import load_hw_config
from simulators.systolic import SystolicArray
from simulators.topology import read_topology, simulate_topology
from suite.errors import UserError


def test_bert_base_layer_list():
    layers = read_topology("bert-base")
    assert len(layers) == 12 * 30  # q, k, v, 12 score + 12 context heads, out, ffn up/down
    ffn_up = next(layer for layer in layers if layer.gemm.name == "enc0_ffn_up")
    assert (ffn_up.gemm.m, ffn_up.gemm.n, ffn_up.gemm.k, ffn_up.nm) == (128, 3072, 768, None)
    scores = next(layer for layer in layers if layer.gemm.name == "enc0_h0_scores")
    assert scores.nm == (1, 1)  # activations x activations: never pruned


def test_conv_rows_become_im2col_gemms(tmp_path):
    path = tmp_path / "net.csv"
    path.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                    "Channels, Num Filter, Strides,\nconv1, 16, 16, 3, 3, 16, 32, 2,\n")
    (layer,) = read_topology(path)
    assert (layer.gemm.m, layer.gemm.n, layer.gemm.k) == (8 * 8, 32, 3 * 3 * 16)


def test_row_without_trailing_comma_is_refused(tmp_path):
    path = tmp_path / "net.csv"
    path.write_text("Layer, M, N, K,\nfc, 64, 64, 64, 2:4\n")  # SCALE-Sim would drop 2:4
    with pytest.raises(UserError, match="net.csv:2: row does not end with ','"):
        read_topology(path)


def test_network_totals_and_dense_attention():
    array = SystolicArray.from_config(load_hw_config("sparse-tc-32x32"))
    report = simulate_topology(array, read_topology("bert-base"), nm=(2, 4))
    assert report.total_cycles == sum(layer.total_cycles for layer in report.layers)
    scores = [layer for layer in report.layers if "scores" in layer.name]
    assert scores and all(layer.tile_patterns == {"dense": 4} for layer in scores)
    assert 1.3 < report.speedup_vs_dense < 2 and report.energy_ratio_vs_dense < 1


def test_summary_from_distinct_layers_equals_the_per_layer_one():
    from simulators.topology import summarize_topology

    array = SystolicArray.from_config(load_hw_config("flexible-32x32"))
    layers = read_topology("bert-base")
    full = simulate_topology(array, layers, nm=(1, 4)).summary()
    short = summarize_topology(array, layers, nm=(1, 4))
    assert len(short.layers) == 5 and short.summary() == pytest.approx(full)
