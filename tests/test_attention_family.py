"""The attention family: parameters, budgets, batches, references, checks, a harness run
and the plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from suite import registry
from suite.config import parse_suite
from suite.devices import CpuDevice, Peaks
from suite.errors import ParamError
from suite.plan import make_plan
from suite.records import read_records
from suite.runner import RECORDS_FILE, run_plan
from suite.workload import Prepared
from suite.workloads.attention import keys_per_query
from suite.workloads.attention_batch import AttentionOutput, RowKept, WindowKept
from suite.workloads.attention_metrics import make_reference

registry.load_plugins()
FAMILY = registry.get_family("attention")


def make(**params):
    return FAMILY.instantiate({"length": 256, "layers": [2, 20], **params}, 0)


def test_family_declares_recall_first_and_a_dense_baseline():
    assert FAMILY.baseline_kernel == "dense"
    assert [m.name for m in FAMILY.accuracy] == ["recall", "rel_error", "density",
                                                "layer_error"]
    assert FAMILY.primary_metric.higher_is_better and FAMILY.query_params == {"budget"}


@pytest.mark.parametrize(("params", "field"), [
    ({"phase": "train"}, "phase"), ({"budget": 1.5}, "budget"), ({"budget": 0}, "budget"),
    ({"head_dim": 40}, "head_dim"), ({"heads": 9, "kv_heads": 2}, "heads"),
    ({"queries": 4}, "queries"), ({"source": "smollm2", "heads": 8}, "heads"),
    ({"source": "smollm2", "length": 9000}, "length"), ({"layers": []}, "layers"),
    ({"phase": "decode", "queries": 300}, "queries"), ({"source": "wiki"}, "source")])
def test_bad_params_name_the_field(params, field):
    with pytest.raises(ParamError) as err:
        make(**params)
    assert err.value.field == field and "\n" not in str(err.value)


def test_a_density_budget_gives_that_causal_density():
    assert keys_per_query(64, "prefill", 4096) == 64
    assert keys_per_query(0.125, "decode", 4096) == 512
    inst = make(length=4096, budget=0.125)
    n = np.arange(1, 4097)
    density = np.minimum(n, inst.keys_per_query).sum() / n.sum()
    assert abs(density - 0.125) < 0.002


def test_batches_rotate_layers_and_sample_stratified_rows():
    inst = make(sample_rows=32)
    inputs = inst.build_inputs()
    batches = inst.batches(inputs, 3)
    assert [b.layer for b in batches] == [2, 20, 2]
    assert batches[0].q.shape == (1, 9, 256, 64) and batches[0].k.shape == (1, 3, 256, 64)
    sample = batches[0].sample
    assert sample[-1] == 255 and len(sample) == 32 and np.all(np.diff(sample) > 0)
    assert not np.array_equal(batches[0].q, batches[1].q)


def test_decode_batches_hold_the_last_queries_over_the_whole_cache():
    inst = make(phase="decode", queries=3)
    batch = inst.batches(inst.build_inputs(), 1)[0]
    assert batch.q.shape[2] == 3 and list(batch.q_pos) == [253, 254, 255]
    assert list(batch.sample) == [0, 1, 2] and batch.k.shape[2] == 256


def test_work_counts_causal_entries():
    inst = make(budget=32)
    batch = inst.batches(inst.build_inputs(), 1)[0]
    work = inst.work(None, batch)
    entries = 9 * 256 * 257 / 2
    assert work.flops_dense == 4 * 64 * entries and work.units == 256
    assert work.flops_useful == pytest.approx(work.flops_dense * inst.nominal_density(batch))


def checked(inst, output, batch, semantics=None):
    ref = make_reference(batch, None)
    return inst.check(output, ref, inst.build_inputs(), Prepared(run=None,
                                                                 semantics=semantics or {}),
                      batch=batch)


def exact(batch):
    from tests.test_attention_kernels import naive
    return naive(batch).astype(np.float32)


def test_check_passes_dense_and_scores_a_window():
    inst = make()
    batch = inst.batches(inst.build_inputs(), 1)[0]
    dense = checked(inst, AttentionOutput(exact(batch)), batch)
    assert dense.valid and dense.accuracy["recall"] == pytest.approx(1.0)
    assert dense.accuracy["rel_error"] < 1e-6 and dense.accuracy["density"] == 1.0
    wrong = checked(inst, AttentionOutput(exact(batch), WindowKept(4, 16)), batch)
    assert not wrong.valid and "own kept set" in wrong.reason


def test_check_rejects_keys_from_the_future_and_over_the_cap():
    inst = make(phase="decode")
    batch = inst.batches(inst.build_inputs(), 1)[0]
    idx = np.full((1, 9, 1, 2), 255, np.int32)
    idx[..., 1] = 256
    future = RowKept(idx, np.full((1, 9, 1), 2, np.int32), np.full((1, 9), 2))
    check = checked(inst, AttentionOutput(exact(batch), future), batch)
    assert not check.valid and "outside" in check.reason
    everything = RowKept(np.tile(np.arange(256, dtype=np.int32), (1, 9, 1, 1)),
                         np.full((1, 9, 1), 256, np.int32), np.full((1, 9), 256))
    capped = checked(inst, AttentionOutput(exact(batch), everything), batch,
                     {"max_keys_per_row": 32})
    assert not capped.valid and "cap 32" in capped.reason


def test_check_rejects_nan_and_wrong_shapes():
    inst = make()
    batch = inst.batches(inst.build_inputs(), 1)[0]
    bad = exact(batch)
    bad[0, 0, 3, 0] = np.nan
    assert "NaN" in checked(inst, AttentionOutput(bad), batch).reason
    assert "shape" in checked(inst, AttentionOutput(bad[:, :3]), batch).reason


SUITE = """
name: attention-tiny
defaults: {warmup: 0, min_repeats: 2, max_repeats: 3, min_time_s: 0.0, seed: 0}
workloads:
  - family: attention
    grid: {phase: [prefill, decode], length: [200], budget: [32, 0.5], heads: [4],
           kv_heads: [2], head_dim: [32], layers: [[1, 20]]}
systems:
  - {device: cpu, kernel: flash}
  - {device: cpu, kernel: window, options: {sinks: 2}}
  - {device: cpu, kernel: block-sparse}
  - {device: cpu, kernel: top-theta}
  - {device: cpu, kernel: "null"}
"""


def test_a_harness_run_records_every_method_with_its_semantics(tmp_path, monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setattr(CpuDevice, "measure_peaks", lambda self: Peaks(1e11, 1e10, "fixed"))
    cfg = parse_suite(SUITE, "attention-tiny.yaml")
    run_plan(make_plan(cfg), cfg, tmp_path)
    records = read_records(tmp_path / RECORDS_FILE)
    assert {r.kernel for r in records} == {"dense", "flash", "window", "block-sparse",
                                           "top-theta", "null"}
    assert all(r.status == "ok" for r in records), [(r.system, r.reason) for r in records]
    window = [r for r in records if r.kernel == "window" and r.params["budget"] == 32]
    assert window[0].semantics["sinks"] == 2 and window[0].semantics["window"] == 30
    timed = [r for r in records if r.kernel != "null"]
    assert all(0 < r.accuracy["density"] <= 1 and r.speedup > 0 for r in timed)
    assert next(r for r in records if r.kernel == "dense").extra["implementation"]


def test_plots_draw_recall_curves(tmp_path):
    rows = [{"family": "attention", "status": "ok", "is_baseline": False, "system": s,
             "params": {"phase": ph, "length": 512, "source": "synthetic"},
             "accuracy": {"recall": r, "density": d}, "speedup": x}
            for s, ph in (("cpu/window", "prefill"), ("cpu/top-k", "decode"))
            for r, d, x in ((0.8, 0.1, 4.0), (0.9, 0.2, 2.0))]
    paths = FAMILY.plot(pd.DataFrame(rows), tmp_path)
    assert sorted(p.name for p in paths) == ["attention_recall_vs_density.png",
                                             "attention_recall_vs_speedup.png"]
    assert all(p.stat().st_size > 0 for p in paths)
