"""Suite configs: valid YAML becomes dataclasses; every mistake is one line naming the
YAML path, its line, the value and what is allowed."""

from __future__ import annotations

import pytest

from suite.config import expand_instances, load_suite, parse_suite
from suite.errors import UserError
from suite.plan import make_plan
from tests.conftest import TOY_SUITE


def error_of(text: str) -> str:
    with pytest.raises(UserError) as info:
        make_plan(parse_suite(text, "s.yaml"))
    return str(info.value)


def test_a_valid_suite_loads_with_defaults_and_expands_its_grid():
    cfg = parse_suite(TOY_SUITE, "toy.yaml")
    assert cfg.name == "toy" and cfg.defaults.min_repeats == 3
    assert cfg.defaults.sample_time_s > 0  # unspecified fields keep their defaults
    assert [i.params["size"] for i in expand_instances(cfg)] == [5, 8]


def test_packaged_quick_suite_is_the_default_and_validates():
    cfg = load_suite("quick")
    assert cfg.name == "quick"
    plan = make_plan(cfg)
    assert plan.instances and plan.row_count > 0


def test_malformed_yaml_names_file_and_line():
    message = error_of("name: x\nworkloads: [1, 2\nsystems: []\n")
    assert message.startswith("s.yaml:3: malformed YAML: expected ',' or ']'")
    assert message.endswith("(while parsing a flow sequence at line 2)")


@pytest.mark.parametrize("text, expected", [
    ("name: x\nworkloads:\n  - family: nope\nsystems: []\n",
     "s.yaml:3: workloads[0].family: unknown family 'nope'; allowed: "),
    ("name: x\nworkload: []\nsystems: []\n", "s.yaml:2: workload: unknown field; allowed: name"),
    ("name: x\nworkloads: []\n", "s.yaml:1: systems: missing"),
    ("name: x\ndefaults: {warmup: two}\nworkloads: []\nsystems: []\n",
     "s.yaml:2: defaults.warmup: got 'two'; allowed: integer"),
    ("name: x\ndefaults: {min_repeats: 5, max_repeats: 2}\nworkloads: []\nsystems: []\n",
     "defaults.max_repeats: got 2; allowed: >= min_repeats (5)"),
    ("name: x\nworkloads:\n  - family: toy\n    grid: {size: [4, -1]}\nsystems:\n"
     "  - {device: cpu, kernel: good}\n",
     "s.yaml:4: workloads[0].grid.size[1]: got -1; allowed: an integer >= 1"),
    ("name: x\nworkloads:\n  - family: toy\n    grid: {colour: red}\nsystems:\n"
     "  - {device: cpu, kernel: good}\n",
     "workloads[0].grid.colour: got 'red'; allowed: size"),
    ("name: x\nworkloads:\n  - family: toy\nsystems:\n  - {device: tpu, kernel: good}\n",
     "s.yaml:5: systems[0].device: unknown device 'tpu'; allowed: cpu, cuda, "),
    ("name: x\nworkloads:\n  - family: toy\nsystems:\n  - {device: cpu, kernel: fastest}\n",
     "s.yaml:5: systems[0].kernel: unknown kernel 'fastest' on cpu; allowed: "),
    ("name: x\nworkloads:\n  - family: toy\nsystems:\n  - {device: cpu}\n",
     "s.yaml:5: systems[0]: missing 'kernel'"),
])
def test_config_errors_point_at_the_line(text, expected):
    assert expected in error_of(text)


def test_spmm_pattern_errors_name_what_is_allowed():
    text = ("name: x\nworkloads:\n  - family: spmm\n    grid:\n      shape: [[64, 64]]\n"
            "      pattern: [dense, '5:4']\nsystems:\n  - {device: cpu, kernel: dense}\n")
    message = error_of(text)
    assert "s.yaml:6: workloads[0].grid.pattern[1]: got '5:4'" in message
    assert "1 <= N <= M" in message


def test_spmm_impossible_shape_is_a_config_error():
    text = ("name: x\nworkloads:\n  - family: spmm\n    grid:\n      shape: [[0, 64]]\n"
            "      pattern: [dense]\nsystems:\n  - {device: cpu, kernel: dense}\n")
    assert "workloads[0].grid.shape: got [0, 64]; allowed: [M, K] with integers >= 1" \
        in error_of(text)


def test_unknown_packaged_suite_lists_the_choices():
    with pytest.raises(UserError, match="unknown suite 'huge'; allowed: a YAML path or .*quick"):
        load_suite("huge")


def test_baseline_is_added_when_not_listed():
    plan = make_plan(parse_suite(TOY_SUITE, "toy.yaml"))
    assert [s.system_id for s in plan.systems if s.is_baseline] == ["cpu/dense"]


def test_system_filter_keeps_the_baseline_and_rejects_no_match():
    cfg = parse_suite(TOY_SUITE, "toy.yaml")
    plan = make_plan(cfg, system_patterns=["cpu/go*"])
    assert sorted(s.system_id for s in plan.systems) == ["cpu/dense", "cpu/good"]
    with pytest.raises(UserError, match="--systems: gpu/\\* matches none of"):
        make_plan(cfg, system_patterns=["gpu/*"])


def test_only_rejects_unknown_family():
    with pytest.raises(UserError, match="--only: unknown family 'attention'"):
        make_plan(parse_suite(TOY_SUITE, "toy.yaml"), only={"attention"})


def test_a_kernel_that_can_run_no_instance_is_a_config_error():
    text = ("name: x\nworkloads:\n  - family: spmm\n    grid:\n      shape: [[64, 64]]\n"
            "      pattern: ['unstructured(0.1)', dense]\nsystems:\n"
            "  - {device: cpu, kernel: nm-numba}\n")
    message = error_of(text)
    assert message.startswith("s.yaml:8: systems[0].kernel: nm-numba cannot run any instance")
    assert "needs an N:M pattern" in message


def test_a_kernel_that_can_run_some_instances_skips_the_others():
    text = ("name: x\nworkloads:\n  - family: spmm\n    grid:\n      shape: [[64, 64]]\n"
            "      pattern: ['2:4', dense]\nsystems:\n  - {device: cpu, kernel: nm-numba}\n")
    assert len(make_plan(parse_suite(text, "s.yaml")).instances) == 2
