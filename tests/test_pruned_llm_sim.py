"""A pruned model's step on the simulated array: its GEMMs, and what the real masks buy.

The step is every block linear on the phase's tokens, the LM head and attention; 2:4
masks on a 2:4 sparse-tensor-core array halve the linears' compute cycles, an
unstructured mask it cannot map runs dense, and the flexible array maps 1:4 too.
"""

import numpy as np
import pytest

from kernels.pruning.magnitude import magnitude_mask
from simulators.hw_config import load_hw_config
from simulators.llm_harness import model_gemms, simulate_step
from simulators.systolic import SystolicArray
from suite.data.llama import LlamaConfig
from suite.data.models import SMOLLM2_CONFIG
from suite.data.tiny import tiny_llama_weights
from suite.workloads.pruned_llm import parse_phase
from suite.workloads.spmm_patterns import parse_pattern

# Small, but wide enough that a layer takes several folds of a 32 x 32 array.
SMALL = LlamaConfig(vocab_size=263, hidden_size=256, intermediate_size=512, num_layers=1,
                    num_heads=4, num_kv_heads=2, head_dim=64)


class Masks:
    """What ``simulate_step`` reads of a pruned model: one mask per layer."""

    def __init__(self, pattern: str, config=SMALL):
        weights = tiny_llama_weights(config)
        self.masks = {n: magnitude_mask(w, parse_pattern(pattern)) for n, w in weights.items()
                      if n.startswith("layer") and "norm" not in n}

    def mask(self, name):
        return self.masks[name]


def array(name):
    return SystolicArray.from_config(load_hw_config(name))


def test_a_decode_step_is_every_linear_the_head_and_attention():
    gemms = model_gemms(SMOLLM2_CONFIG, parse_phase("decode(8,256)"))
    linears = [g for g in gemms if g.part == "linears"]
    assert len(linears) == 30 * 7 and all(g.gemm.m == 8 for g in linears)
    up = next(g.gemm for g in linears if g.layer == "layer3.mlp-up")
    assert (up.n, up.k) == (1536, 576)
    head = next(g.gemm for g in gemms if g.part == "lm-head")
    assert (head.m, head.n, head.k) == (8, 49152, 576)
    scores = next(g for g in gemms if g.gemm.name == "attn-scores")
    assert (scores.gemm.m, scores.gemm.n, scores.gemm.k) == (3, 257, 64)
    assert scores.count == 30 * 3 * 8


def test_prefill_runs_the_head_on_the_last_token_only():
    gemms = model_gemms(SMOLLM2_CONFIG, parse_phase("prefill(512)"))
    head = next(g.gemm for g in gemms if g.part == "lm-head")
    assert head.m == 1
    values = next(g for g in gemms if g.gemm.name == "attn-values")
    assert (values.gemm.m, values.gemm.n, values.gemm.k, values.count) == (3 * 512, 64, 512, 90)


@pytest.mark.parametrize("hw, pattern, faster", [
    ("sparse-tc-32x32", "2:4", True), ("sparse-tc-32x32", "unstructured(0.5)", False),
    ("flexible-32x32", "1:4", True)])
def test_real_masks_buy_what_the_hardware_can_map(hw, pattern, faster):
    phase = parse_phase("prefill(64)")
    gemms = model_gemms(SMALL, phase)
    dense = simulate_step(array(hw), gemms)
    sparse = simulate_step(array(hw), gemms, Masks(pattern))
    before, after = dense["cycles_by_part"], sparse["cycles_by_part"]
    assert after["lm-head"] == before["lm-head"] and after["attention"] == before["attention"]
    if faster:
        assert after["linears"] < 0.8 * before["linears"]
        assert sparse["energy_j"] < dense["energy_j"]
    else:
        assert after["linears"] >= before["linears"]
    assert dense["gemms"] == sparse["gemms"] == 7 + 1 + 2 * 2


def test_a_dense_config_has_no_nm_rows():
    from simulators.llm_harness import sim_llm_nm
    from suite.errors import Unsupported

    class Ctx:
        device = type("D", (), {"array": array("dense-32x32"),
                                "cfg": load_hw_config("dense-32x32")})()

    with pytest.raises(Unsupported, match="supports no sparsity"):
        sim_llm_nm(None, None, Ctx())


def test_masks_of_the_tiny_model_are_exact():
    masks = Masks("2:4").masks
    assert all(np.count_nonzero(m) * 2 == m.size for m in masks.values())
