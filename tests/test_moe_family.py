"""The MoE family: presets and parameter errors, seeded routing and batches, the capacity
rule, MoE-CAP work (S-MFU / S-MBU by hand), checks that fail on wrong answers (including a
stale batch's answer), declared semantics reaching the record, and the plot.
"""

import numpy as np
import pandas as pd
import pytest

import kernels.moe  # noqa: F401  (registers the MoE kernels for the harness run below)
from suite.config import parse_suite
from suite.devices import CpuDevice, Peaks
from suite.errors import ParamError
from suite.metrics import s_mbu, s_mfu
from suite.plan import make_plan
from suite.records import read_records
from suite.registry import get_family
from suite.runner import RECORDS_FILE, run_plan
from suite.workload import Prepared
from suite.workloads.moe import MoeBatch, MoeInputs, MoeOutput
from suite.workloads.moe_routing import capacity, dropped_pairs, parse_routing

SMALL = {"d_model": 16, "d_ff": 8, "experts": 4, "top_k": 2, "tokens": 12}
EXACT = Prepared(run=lambda batch: None)
DROPPING = Prepared(run=lambda batch: None, semantics={"drops_tokens": True})


def build(params, seed=0):
    """What the harness does with one grid point: typed params, defaults, then ``build``."""
    return get_family("moe").instantiate(params, seed)


def test_family_is_registered_with_dense_baseline_and_loop_rank_baseline():
    spec = get_family("moe")
    assert (spec.baseline_kernel, spec.accuracy_metric) == ("dense", "rel_error")
    assert spec.rank_baseline_kernel == "loop"
    assert [m.name for m in spec.accuracy] == ["rel_error", "dropped_token_rate"]
    assert spec.accuracy[1].high == 1.0 and not spec.accuracy[1].higher_is_better
    assert "router" in spec.timed_scope and "excluded" in spec.timed_scope
    assert spec.typed and "routing" in spec.params and spec.plot is not None


def test_preset_shapes_scale_down():
    inst = build({"model": "deepseek-moe-16b", "scale": 8, "tokens": 8})
    assert (inst.d_model, inst.d_ff, inst.experts, inst.top_k) == (256, 176, 64, 6)
    assert inst.gated and inst.h_in == 352
    assert inst.label == "deepseek-moe-16b d256 ff176 E64 k6 T8 uniform float32"
    switch = build({"model": "switch-base-128", "scale": 4})
    assert (switch.top_k, switch.activation, switch.tokens) == (1, "relu", 512)


def test_instance_ids_name_only_given_and_defaulted_params():
    inst = build({"model": "deepseek-moe-16b", "scale": 8, "tokens": 8}, seed=0)
    assert inst.instance_id == ("moe/capacity_factor=1.25,dtype=float32,model=deepseek-moe-16b,"
                                "routing=uniform,scale=8,shared_experts=0,tokens=8/seed=0")


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
        build(params)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: got ")


def test_routing_is_seeded_and_sorted_by_probability():
    a = build({**SMALL, "routing": "zipf(1.5)"}, seed=3).build_inputs()
    b = build({**SMALL, "routing": "zipf(1.5)"}, seed=3).build_inputs()
    np.testing.assert_array_equal(a.batch.expert_idx, b.batch.expert_idx)
    assert np.all(a.batch.expert_weight[:, 0] >= a.batch.expert_weight[:, 1])
    np.testing.assert_allclose(a.batch.expert_weight.sum(axis=1), 1.0, rtol=1e-6)
    assert parse_routing(" zipf( 2 ) ").label == "zipf(2)"


def test_extreme_skew_sends_every_token_to_one_expert():
    inst = build({**SMALL, "top_k": 1, "tokens": 64, "routing": "zipf(60)"})
    assert np.unique(inst.build_inputs().batch.expert_idx).size == 1


def test_batches_start_with_the_inputs_batch_then_fresh_tokens_routed_by_the_same_rule():
    inst = build({**SMALL, "tokens": 64, "routing": "zipf(60)", "top_k": 1}, seed=4)
    inputs = inst.build_inputs()
    batches = inst.batches(inputs, 3)
    again = build({**SMALL, "tokens": 64, "routing": "zipf(60)", "top_k": 1},
                  seed=4).batches(inputs, 3)
    assert len(batches) == 3 and batches[0] is inputs.batch
    assert not np.array_equal(batches[1].x, batches[0].x)
    assert not np.array_equal(batches[1].x, batches[2].x)
    np.testing.assert_array_equal(batches[2].x, again[2].x)  # seeded
    for b in batches:  # the same rule: the one popular expert of this ranking takes all
        assert b.x.shape == (64, 16) and b.x.dtype == np.float32
        np.testing.assert_array_equal(b.expert_idx, batches[0].expert_idx)
        np.testing.assert_array_equal(b.expert_idx, inputs.router.route(
            b.x.astype(np.float32))[0])


def test_references_and_work_follow_the_batch():
    inst = build({**SMALL, "routing": "zipf(1)"}, seed=5)
    inputs = inst.build_inputs()
    b0, b1 = inst.batches(inputs, 2)
    assert not np.array_equal(b0.expert_idx, b1.expert_idx)
    assert not np.allclose(inst.reference(inputs, b0), inst.reference(inputs, b1))
    active = [np.unique(b.expert_idx).size for b in (b0, b1)]
    assert [inst.work(inputs, b).units for b in (b0, b1)] == [12, 12]
    per_expert = 4 * (16 * 16 + 8 * 16)
    assert [inst.work(inputs, b).bytes_min for b in (b0, b1)] == [
        a * per_expert + 2 * 12 * 16 * 4 for a in active]


def test_capacity_rule_by_hand():
    # slot-major priority: all first choices, then second choices, each in token order.
    idx = np.array([[0, 1], [0, 1], [0, 2]])
    expected = np.array([[False, False], [True, True], [True, False]])
    np.testing.assert_array_equal(dropped_pairs(idx, 1), expected)
    assert capacity(1.25, tokens=12, top_k=2, experts=4) == 8  # ceil(1.25 * 12 * 2 / 4)


def hand_inputs():
    """T=3 tokens routed to experts {0,1}, {0,2}, {1,0}: expert 3 gets no token."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    w_in = rng.standard_normal((4, 4, 16)).astype(np.float32)
    w_down = rng.standard_normal((4, 8, 4)).astype(np.float32)
    idx = np.array([[0, 1], [0, 2], [1, 0]], dtype=np.int32)
    weight = np.full((3, 2), 0.5, dtype=np.float32)
    return MoeInputs(w_in, w_down, MoeBatch(x, idx, weight), experts=4, shared_experts=0)


def test_work_and_s_mfu_s_mbu_by_hand():
    inst = build({"d_model": 4, "d_ff": 8, "experts": 4, "top_k": 2, "tokens": 3})
    inputs = hand_inputs()
    work = inst.work(inputs, inputs.batch)
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
                  "expert": "relu", "shared_experts": 1})
    inputs = inst.build_inputs()
    work = inst.work(inputs, inputs.batch)
    assert work.flops_useful == 3 * (2 + 1) * (2 * 4 * 8 * 2)


def test_check_passes_reference_and_fails_wrong_answers():
    inst = build(SMALL, seed=1)
    inputs = inst.build_inputs()
    ref = inst.reference(inputs, inputs.batch)
    good = inst.check(ref.astype(np.float32), ref, inputs, EXACT)
    assert good.valid and good.accuracy["rel_error"] < 1e-6
    assert good.accuracy["dropped_token_rate"] == 0.0 and good.accuracy["load_imbalance"] >= 1
    wrong = ref.copy()
    wrong[0, 0] += 1e-3 * np.linalg.norm(ref)
    assert not inst.check(wrong, ref, inputs, EXACT).valid
    assert not inst.check(ref[:-1], ref, inputs, EXACT).valid
    nan = ref.copy()
    nan[1, 1] = np.nan
    assert "NaN" in inst.check(nan, ref, inputs, EXACT).reason


def test_batch_zeros_answer_fails_the_check_of_batch_one():
    inst = build(SMALL, seed=1)
    inputs = inst.build_inputs()
    b0, b1 = inst.batches(inputs, 2)
    stale = inst.reference(inputs, b0).astype(np.float32)
    assert inst.check(stale, inst.reference(inputs, b0), inputs, EXACT, batch=b0).valid
    check = inst.check(stale, inst.reference(inputs, b1), inputs, EXACT, batch=b1)
    assert not check.valid and "rel_error_vs_semantics" in check.reason


def test_check_of_a_dropping_kernel_uses_the_capacity_rule_of_its_batch():
    inst = build({**SMALL, "tokens": 40, "capacity_factor": 0.5}, seed=2)
    inputs = inst.build_inputs()
    b0, b1 = inst.batches(inputs, 2)
    ref = inst.reference(inputs, b1)
    rule = dropped_pairs(b1.expert_idx, inst.capacity)
    assert rule.any() and not np.array_equal(rule, dropped_pairs(b0.expert_idx, inst.capacity))
    # the exact-routing answer is wrong for a kernel that declares it drops
    assert not inst.check(MoeOutput(ref, rule), ref, inputs, DROPPING, batch=b1).valid
    lying = MoeOutput(ref, np.zeros_like(rule))
    assert "capacity rule" in inst.check(lying, ref, inputs, DROPPING, batch=b1).reason
    batch0_drops = MoeOutput(ref, dropped_pairs(b0.expert_idx, inst.capacity))
    assert "capacity rule" in inst.check(batch0_drops, ref, inputs, DROPPING, batch=b1).reason
    assert "no drop set" in inst.check(ref, ref, inputs, DROPPING, batch=b1).reason
    check = inst.check(MoeOutput(ref, rule), ref, inputs, DROPPING, batch=b1)
    assert check.accuracy["dropped_token_rate"] == pytest.approx(rule.mean())


def test_a_kernel_must_declare_its_drops_and_its_capacity():
    inst = build({**SMALL, "tokens": 40, "capacity_factor": 0.5}, seed=2)
    inputs = inst.build_inputs()
    ref = inst.reference(inputs, inputs.batch)
    rule = dropped_pairs(inputs.batch.expert_idx, inst.capacity)
    undeclared = inst.check(MoeOutput(ref, rule), ref, inputs, EXACT)
    assert not undeclared.valid and "does not declare drops_tokens" in undeclared.reason
    other = Prepared(run=lambda batch: None,
                     semantics={"drops_tokens": True, "capacity": inst.capacity + 1})
    assert "declares capacity" in inst.check(MoeOutput(ref, rule), ref, inputs, other).reason


MOE_SUITE = """
name: moe-tiny
defaults: {warmup: 0, min_repeats: 2, max_repeats: 2, min_time_s: 0.0, batches: 3}
workloads:
  - family: moe
    grid: {d_model: [16], d_ff: [8], experts: [4], top_k: [2], tokens: [24],
           capacity_factor: [0.5], routing: ["zipf(1)"]}
systems:
  - {device: cpu, kernel: capacity}
  - {device: cpu, kernel: grouped}
"""


def test_declared_semantics_and_rank_baseline_reach_the_records(tmp_path, monkeypatch):
    monkeypatch.setattr(CpuDevice, "measure_peaks", lambda self: Peaks(1e11, 1e10, "fixed"))
    cfg = parse_suite(MOE_SUITE, "moe-tiny.yaml")
    run_plan(make_plan(cfg), cfg, tmp_path)
    rows = {r.kernel: r for r in read_records(tmp_path / RECORDS_FILE)}
    assert set(rows) == {"dense", "loop", "grouped", "capacity"}
    assert all(r.status == "ok" for r in rows.values()), {k: r.reason for k, r in rows.items()}
    cap = rows["capacity"]
    assert cap.semantics == {"drops_tokens": True, "capacity": 6}  # ceil(0.5 * 24 * 2 / 4)
    assert 0 < cap.accuracy["dropped_token_rate"] < 1 and cap.checks["batches_checked"] == 3
    assert rows["grouped"].semantics == {} and rows["grouped"].accuracy["rel_error"] < 1e-5
    assert rows["grouped"].rank_baseline_system == "cpu/loop"
    assert rows["grouped"].speedup_vs_rank_baseline > 0


def test_plot_draws_one_png(tmp_path):
    frame = pd.DataFrame([
        {"family": "moe", "instance_id": "moe/a", "instance_label": "a", "params": {},
         "device": "cpu", "kernel": k, "system": f"cpu/{k}", "status": "ok", "median_s": s,
         "speedup": 1.0, "throughput_units_per_s": 512 / s, "accuracy": {}, "extra": {}}
        for k, s in (("dense", 0.05), ("grouped", 0.01))])
    paths = get_family("moe").plot(frame, tmp_path)
    assert len(paths) == 1 and paths[0].suffix == ".png" and paths[0].stat().st_size > 0
