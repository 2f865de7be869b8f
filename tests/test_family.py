"""Typed family parameters, metric directions and a reference taken from the baseline."""

from __future__ import annotations

import numpy as np
import pytest

from suite.build_group import build_key
from suite.config import parse_suite
from suite.errors import ParamError
from suite.family import AccuracyMetric, FamilySpec, Param, at_least, one_of
from suite.plan import make_plan
from suite.records import read_records
from suite.registry import get_family, register_family, register_kernel
from suite.runner import RECORDS_FILE, run_plan
from suite.workload import Check, Prepared, Work
from tests.toy_family import ToyInstance

SPEC = FamilySpec("typed-demo", lambda params, seed: params, baseline_kernel="dense",
                  params={"size": Param(int, 8, "elements", at_least(1)),
                          "mode": Param(str, "a", "a or b", one_of("a", "b")),
                          "budget": Param(int, 4, "a knob", at_least(1), query=True)},
                  accuracy=(AccuracyMetric("score", higher_is_better=True, low=0, high=1),))


def test_defaults_are_merged_once_by_the_harness():
    assert SPEC.instantiate({"size": 3}, 0) == {"size": 3, "mode": "a", "budget": 4}


def test_unknown_keys_wrong_types_and_bad_values_name_the_field():
    with pytest.raises(ParamError, match="sizes: got 3; allowed: parameters size, mode"):
        SPEC.instantiate({"sizes": 3}, 0)
    with pytest.raises(ParamError, match="size: got '3'; allowed: elements"):
        SPEC.instantiate({"size": "3"}, 0)
    with pytest.raises(ParamError, match="size: got True"):
        SPEC.instantiate({"size": True}, 0)
    with pytest.raises(ParamError, match="mode: got 'c'; allowed: one of a, b"):
        SPEC.instantiate({"mode": "c"}, 0)


def test_the_first_accuracy_metric_is_the_tables_and_states_its_direction():
    assert SPEC.accuracy_metric == "score" and SPEC.accuracy_higher_is_better
    assert SPEC.primary_metric.as_dict() == {"name": "score", "direction": "higher",
                                              "low": 0, "high": 1}
    assert SPEC.query_params == {"budget"}
    assert "query-time" in SPEC.param_help()["budget"]


def test_query_parameters_do_not_change_the_build_key():
    search = get_family("toy-search")
    a = search.instantiate({"budget": 20}, 0)
    b = search.instantiate({"budget": 40}, 0)
    c = search.instantiate({"budget": 20, "docs": 500}, 0)
    assert build_key(a) == build_key(b) != build_key(c)


class DeviceReferenceInstance(ToyInstance):
    """Like the toy family, but no exact reference: the dense system's output is it."""

    family = "toy-devref"

    def reference(self, inputs, batch):
        raise AssertionError("a baseline-reference family never computes its own")

    def work(self, inputs, batch):
        return Work(flops_dense=batch.size, flops_useful=batch.size, bytes_min=8.0 * batch.size)

    def check(self, output, reference, inputs, prepared, batch=None):
        error = float(np.abs(np.asarray(output) - reference).max())
        return Check(error < 1e-9, {"gap": error}, {}, f"gap {error:.3g}")


register_family(FamilySpec("toy-devref", lambda p, s: DeviceReferenceInstance(p, s),
                           {"size": Param(int, 8, "elements")}, baseline_kernel="dense",
                           accuracy=(AccuracyMetric("gap"),), reference="baseline"))


@register_kernel("toy-devref", "dense", device="cpu")
def devref_dense(instance, inputs, ctx):
    return Prepared(run=lambda x: np.sin(x))  # whatever dense computes is the reference


@register_kernel("toy-devref", "same", device="cpu")
def devref_same(instance, inputs, ctx):
    return Prepared(run=lambda x: np.sin(x.copy()))


@register_kernel("toy-devref", "other", device="cpu")
def devref_other(instance, inputs, ctx):
    return Prepared(run=lambda x: np.cos(x))


def test_a_family_may_take_its_reference_from_the_baselines_output(tmp_path):
    cfg = parse_suite("""
name: devref
defaults: {warmup: 0, min_repeats: 2, max_repeats: 3, min_time_s: 0.0}
workloads: [{family: toy-devref, grid: {size: 6}}]
systems: [{device: cpu, kernel: same}, {device: cpu, kernel: other}]
""", "devref.yaml")
    run_plan(make_plan(cfg), cfg, tmp_path)
    rows = {r.kernel: r for r in read_records(tmp_path / RECORDS_FILE)}
    assert rows["dense"].status == "ok" and rows["same"].status == "ok"
    assert rows["other"].status == "failed" and "wrong result: gap" in rows["other"].reason
