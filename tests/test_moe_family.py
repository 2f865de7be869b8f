"""The MoE family: presets and parameter errors, seeded routing, the capacity rule,
MoE-CAP work (S-MFU / S-MBU by hand), checks that fail on wrong answers, and the plot.
"""

import numpy as np
import pandas as pd
import pytest

from suite.errors import ParamError
from suite.metrics import s_mbu, s_mfu
from suite.registry import get_family
from suite.workload import Prepared
from suite.workloads.moe import MoeInputs, MoePrepared, build
from suite.workloads.moe_routing import capacity, dropped_pairs, parse_routing

SMALL = {"d_model": 16, "d_ff": 8, "experts": 4, "top_k": 2, "tokens": 12}


def test_family_is_registered_with_dense_baseline():
    spec = get_family("moe")
    assert (spec.baseline_kernel, spec.accuracy_metric) == ("dense", "rel_error")
    assert "routing" in spec.params and spec.plot is not None


def test_preset_shapes_scale_down():
    inst = build({"model": "deepseek-moe-16b", "scale": 8, "tokens": 8}, seed=0)
    assert (inst.d_model, inst.d_ff, inst.experts, inst.top_k) == (256, 176, 64, 6)
    assert inst.gated and inst.h_in == 352
    assert inst.label == "deepseek-moe-16b d256 ff176 E64 k6 T8 uniform float32"
    switch = build({"model": "switch-base-128", "scale": 4}, seed=0)
    assert (switch.top_k, switch.activation, switch.tokens) == (1, "relu", 512)


@pytest.mark.parametrize("params, field", [
    ({**SMALL, "bogus": 1}, "bogus"),
    ({"model": "gpt-5-moe"}, "model"),
    ({**SMALL, "top_k": 5}, "top_k"),
    ({**SMALL, "tokens": 0}, "tokens"),
    ({**SMALL, "d_model": -4}, "d_model"),
    ({**SMALL, "d_ff": 2.5}, "d_ff"),
    ({**SMALL, "shared_experts": -1}, "shared_experts"),
    ({**SMALL, "routing": "zipf(-1)"}, "routing"),
    ({**SMALL, "routing": "pareto(2)"}, "routing"),
    ({**SMALL, "capacity_factor": 0}, "capacity_factor"),
    ({**SMALL, "capacity_factor": True}, "capacity_factor"),
    ({**SMALL, "dtype": "int8"}, "dtype"),
    ({**SMALL, "expert": "swish"}, "expert"),
    ({"d_model": 16, "d_ff": 8, "experts": 4}, "top_k"),
    ({"model": "mixtral-8x7b", "scale": 5000}, "scale"),
])
def test_bad_params_name_the_field(params, field):
    with pytest.raises(ParamError) as err:
        build(params, seed=0)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: got ")


def test_routing_is_seeded_and_sorted_by_probability():
    a = build({**SMALL, "routing": "zipf(1.5)"}, seed=3).build_inputs()
    b = build({**SMALL, "routing": "zipf(1.5)"}, seed=3).build_inputs()
    np.testing.assert_array_equal(a.expert_idx, b.expert_idx)
    assert np.all(a.expert_weight[:, 0] >= a.expert_weight[:, 1])
    np.testing.assert_allclose(a.expert_weight.sum(axis=1), 1.0, rtol=1e-6)
    assert parse_routing(" zipf( 2 ) ").label == "zipf(2)"


def test_extreme_skew_sends_every_token_to_one_expert():
    inst = build({**SMALL, "top_k": 1, "tokens": 64, "routing": "zipf(60)"}, seed=0)
    assert np.unique(inst.build_inputs().expert_idx).size == 1


def test_capacity_rule_by_hand():
    # slot-major priority: all first choices, then second choices, each in token order.
    idx = np.array([[0, 1], [0, 1], [0, 2]])
    expected = np.array([[False, False], [True, True], [True, False]])
    np.testing.assert_array_equal(dropped_pairs(idx, 1), expected)
    assert capacity(1.25, tokens=12, top_k=2, experts=4) == 8  # ceil(1.25 * 12 * 2 / 4)


def hand_inputs(inst):
    """T=3 tokens routed to experts {0,1}, {0,2}, {1,0}: expert 3 gets no token."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    w_in = rng.standard_normal((4, 4, 16)).astype(np.float32)
    w_down = rng.standard_normal((4, 8, 4)).astype(np.float32)
    idx = np.array([[0, 1], [0, 2], [1, 0]], dtype=np.int32)
    weight = np.full((3, 2), 0.5, dtype=np.float32)
    return MoeInputs(x, w_in, w_down, idx, weight, experts=4, shared_experts=0)


def test_work_and_s_mfu_s_mbu_by_hand():
    inst = build({"d_model": 4, "d_ff": 8, "experts": 4, "top_k": 2, "tokens": 3}, seed=0)
    work = inst.work(hand_inputs(inst))
    # one (token, expert) pair of a SwiGLU expert: 2*d*ff (gate) + 2*d*ff (up) + 2*ff*d (down)
    per_pair = 2 * 4 * 8 * 3  # = 192 FLOPs
    assert work.flops_useful == 3 * 2 * per_pair == 1152
    assert work.flops_dense == 3 * 4 * per_pair == 2304
    # 3 active experts x (4*16 + 8*4 = 96 params) x 4 bytes + x in (3*4*4) + y out (3*4*4)
    assert work.bytes_min == 3 * 96 * 4 + 48 + 48 == 1248
    assert (work.units, work.unit_name) == (3, "token")
    assert s_mfu(work.flops_useful, time_s=1e-6, peak_flops_per_s=2.304e9) == pytest.approx(0.5)
    assert s_mbu(work.bytes_min, time_s=1e-6, peak_bytes_per_s=4.992e9) == pytest.approx(0.25)


def test_plain_experts_count_two_gemms_and_shared_experts_always_active():
    inst = build({"d_model": 4, "d_ff": 8, "experts": 4, "top_k": 2, "tokens": 3,
                  "expert": "relu", "shared_experts": 1}, seed=0)
    work = inst.work(inst.build_inputs())
    assert work.flops_useful == 3 * (2 + 1) * (2 * 4 * 8 * 2)


def test_check_passes_reference_and_fails_wrong_answers():
    inst = build(SMALL, seed=1)
    inputs = inst.build_inputs()
    ref = inst.reference(inputs)
    good = inst.check(ref.astype(np.float32), ref, inputs, Prepared(run=lambda: None))
    assert good.valid and good.accuracy["rel_error"] < 1e-6
    assert good.accuracy["dropped_token_rate"] == 0.0 and good.accuracy["load_imbalance"] >= 1
    wrong = ref.copy()
    wrong[0, 0] += 1e-3 * np.linalg.norm(ref)
    assert not inst.check(wrong, ref, inputs, Prepared(run=lambda: None)).valid
    assert not inst.check(ref[:-1], ref, inputs, Prepared(run=lambda: None)).valid
    nan = ref.copy()
    nan[1, 1] = np.nan
    assert "NaN" in inst.check(nan, ref, inputs, Prepared(run=lambda: None)).reason


def test_check_of_a_dropping_kernel_uses_the_capacity_rule():
    inst = build({**SMALL, "tokens": 40, "capacity_factor": 0.5}, seed=2)
    inputs = inst.build_inputs()
    ref = inst.reference(inputs)
    rule = dropped_pairs(inputs.expert_idx, inst.capacity)
    assert rule.any()
    exact = MoePrepared(run=lambda: None, dropped=rule)
    # the exact-routing answer is wrong for a kernel that says it dropped pairs
    assert not inst.check(ref, ref, inputs, exact).valid
    lying = MoePrepared(run=lambda: None, dropped=np.zeros_like(rule))
    assert "capacity rule" in inst.check(ref, ref, inputs, lying).reason
    check = inst.check(ref, ref, inputs, exact)
    assert check.accuracy["dropped_token_rate"] == pytest.approx(rule.mean())


def test_plot_draws_one_png(tmp_path):
    frame = pd.DataFrame([
        {"family": "moe", "instance_id": "moe/a", "instance_label": "a", "params": {},
         "device": "cpu", "kernel": k, "system": f"cpu/{k}", "status": "ok", "median_s": s,
         "speedup": 1.0, "throughput_units_per_s": 512 / s, "accuracy": {}, "extra": {}}
        for k, s in (("dense", 0.05), ("grouped", 0.01))])
    paths = get_family("moe").plot(frame, tmp_path)
    assert len(paths) == 1 and paths[0].suffix == ".png" and paths[0].stat().st_size > 0
