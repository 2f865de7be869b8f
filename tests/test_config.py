"""Suite configs: valid YAML becomes dataclasses; every mistake is one line naming the
YAML path, its line, the value and what is allowed."""

from __future__ import annotations

import time

import pytest

from suite.cli import main
from suite.config import MeasureSettings, expand_groups, expand_instances, load_suite, parse_suite
from suite.errors import UserError
from suite.plan import make_plan
from tests.conftest import TOY_SUITE

GROUPS = """
name: g
defaults: {min_repeats: 3, max_repeats: 10, max_time_s: 60, scenario: batch}
workloads:
  - family: toy
    grid: {size: [5]}
  - family: toy
    grid: {size: [6, 7]}
    measure: {scenario: per_query, queries: 8, mode: one-at-a-time, max_repeats: 4}
systems:
  - {device: cpu, kernel: good}
"""


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
    with pytest.raises(UserError, match="--only: unknown family 'no-such-family'"):
        make_plan(parse_suite(TOY_SUITE, "toy.yaml"), only={"no-such-family"})


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


def suite_with(defaults: str = "", measure: str = "", prices: str = "") -> str:
    """A toy suite with one group; each argument a YAML flow mapping (or '' for none)."""
    return ("name: x\n" + (f"defaults: {defaults}\n" if defaults else "")
            + "workloads:\n  - family: toy\n" + (f"    measure: {measure}\n" if measure else "")
            + "systems:\n  - {device: cpu, kernel: good}\n"
            + (f"prices: {prices}\n" if prices else ""))


def test_new_measure_settings_have_defaults():
    settings = parse_suite(TOY_SUITE, "toy.yaml").defaults
    assert (settings.max_time_s, settings.batches, settings.scenario, settings.queries,
            settings.mode) == (300.0, 3, "batch", 32, "interleaved")


def test_a_group_measure_block_merges_over_the_defaults():
    cfg = parse_suite(GROUPS, "g.yaml")
    plain, custom = (group.measure for group in cfg.workloads)
    assert plain == cfg.defaults and plain.max_time_s == 60.0
    assert (custom.scenario, custom.queries, custom.mode, custom.max_repeats) == \
        ("per_query", 8, "one-at-a-time", 4)
    assert (custom.min_repeats, custom.max_time_s, custom.seed) == (3, 60.0, 0)  # inherited


def test_expand_groups_pairs_each_group_with_its_instances():
    cfg = parse_suite(GROUPS, "g.yaml")
    groups = expand_groups(cfg)
    assert [(g.path, [i.params["size"] for i in insts]) for g, insts in groups] == \
        [("workloads[0]", [5]), ("workloads[1]", [6, 7])]
    assert [i.params for i in expand_instances(cfg)] == \
        [i.params for _, insts in groups for i in insts]
    assert expand_groups(cfg, only={"spmm"}) == []


def test_the_config_hash_covers_group_measure_blocks():
    changed = GROUPS.replace("queries: 8", "queries: 9")
    assert parse_suite(GROUPS, "g.yaml").config_hash != parse_suite(changed, "g.yaml").config_hash
    assert parse_suite(GROUPS, "g.yaml").config_hash == parse_suite(GROUPS, "h.yaml").config_hash


@pytest.mark.parametrize("defaults, expected", [
    ("{max_time_s: 0}", "s.yaml:2: defaults.max_time_s: got 0; allowed: a finite number > 0"),
    ("{max_time_s: .inf}", "defaults.max_time_s: got inf; allowed: a finite number > 0"),
    ("{min_time_s: .nan}", "defaults.min_time_s: got nan; allowed: a finite number >= 0"),
    ("{sample_time_s: -.inf}", "defaults.sample_time_s: got -inf; allowed: a finite number"),
    ("{batches: 0}", "defaults.batches: got 0; allowed: an integer >= 1"),
    ("{batches: true}", "defaults.batches: got True; allowed: integer"),
    ("{queries: 2.5}", "defaults.queries: got 2.5; allowed: integer"),
    ("{queries: .inf}", "defaults.queries: got inf; allowed: integer"),
    ("{warmup: 100000000000000000000}", "defaults.warmup: got 100000000000000000000; "
                                        "allowed: an integer >= 0 and <= 1000000"),
    ("{scenario: fast}", "defaults.scenario: got 'fast'; allowed: batch, per_query"),
    ("{mode: 3}", "defaults.mode: got 3; allowed: string"),
    ("{mode: all}", "defaults.mode: got 'all'; allowed: interleaved, one-at-a-time"),
    ("{min_time_s: 10, max_time_s: 5}", "defaults.max_time_s: got 5.0; allowed: > min_time_s"),
    ("{min_repeats: 80}", "defaults.min_repeats: got 80; allowed: <= max_repeats (50)"),
    ("[1, 2]", "s.yaml:2: defaults: got [1, 2]; allowed: mapping"),
])
def test_measure_defaults_are_validated(defaults, expected):
    assert expected in error_of(suite_with(defaults=defaults))


@pytest.mark.parametrize("measure, expected", [
    ("{scenario: fast}", "s.yaml:4: workloads[0].measure.scenario: got 'fast'; "
                         "allowed: batch, per_query"),
    ("{max_time_s: .inf}", "s.yaml:4: workloads[0].measure.max_time_s: got inf; "
                           "allowed: a finite number > 0 and <= 86400"),
    ("{seed: 3}", "s.yaml:4: workloads[0].measure.seed: unknown field; allowed: warmup, "),
    ("{min_repeats: 60}", "workloads[0].measure.min_repeats: got 60; allowed: <= max_repeats "
                          "(50)"),
    ("{max_repeats: 2}", "workloads[0].measure.max_repeats: got 2; allowed: >= min_repeats (5)"),
    ("{max_time_s: 0.1}", "workloads[0].measure.max_time_s: got 0.1; allowed: > min_time_s"),
    ("fast", "s.yaml:4: workloads[0].measure: got 'fast'; allowed: mapping"),
])
def test_group_measure_blocks_are_validated(measure, expected):
    assert expected in error_of(suite_with(measure=measure))


@pytest.mark.parametrize("prices, expected", [
    ("{cpu: .inf}", "s.yaml:6: prices.cpu: got inf; allowed: a finite number >= 0 (US$ per hour)"),
    ("{cpu: .nan}", "prices.cpu: got nan; allowed: a finite number >= 0"),
    ("{cpu: -1}", "prices.cpu: got -1; allowed: a finite number >= 0"),
    ("{cpu: true}", "prices.cpu: got True; allowed: integer or number"),
])
def test_prices_are_finite_and_not_negative(prices, expected):
    assert expected in error_of(suite_with(prices=prices))


def test_an_empty_choice_list_is_refused():
    text = "name: x\nworkloads:\n  - family: toy\n    grid: {size: []}\nsystems: []\n"
    assert "s.yaml:4: workloads[0].grid.size: got []; allowed: a value or a non-empty list" \
        in error_of(text)


def test_a_grid_too_large_to_run_is_refused():
    text = ("name: x\nworkloads:\n  - family: toy\n    grid: {size: " + str(list(range(1, 201)))
            + ", colour: " + str(list(range(100))) + "}\nsystems: []\n")
    assert "s.yaml:4: workloads[0].grid: got 20000 grid points; allowed: at most 10000" \
        in error_of(text)


def test_a_long_value_is_cut_short_in_the_message():
    message = error_of("name: " + str(list(range(1000))) + "\nworkloads: []\nsystems: []\n")
    assert message.startswith("s.yaml:1: name: got [0, 1, 2, ") and len(message) < 120


BAD_FILES = {  # case: (file bytes, the message after the file name)
    "latin-1": ("name: caf\xe9\n".encode("latin-1"),
                ":1: not UTF-8 text (byte 0xe9 at offset 9)"),
    "binary": (bytes(range(256)), ":1: a binary file (NUL byte at offset 0)"),
    "huge": (b"# comment\n" * 110_000, ": file larger than 1 MiB"),
    "alias bomb": (b"a: &a [lol, lol]\nb: &b [*a, *a]\nc: [*b, *b]\n",
                   ":1: anchors and aliases are not allowed: got '&a'"),
    "deep nesting": (b"[" * 100_000, ":1: nesting deeper than 64 levels"),
    "tag": (b"name: !!python/object/apply:os.system [ls]\n",
            ":1: YAML tags are not allowed: got '!!python/object/apply:os.system'"),
    "infinite time": (suite_with(defaults="{min_time_s: .inf}").encode(),
                      ":2: defaults.min_time_s: got inf"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_suite_files_exit_2_with_one_line_quickly(case, tmp_path, capsys):
    data, expected = BAD_FILES[case]
    path = tmp_path / "s.yaml"
    path.write_bytes(data)
    started = time.perf_counter()
    assert main(["--suite", str(path)]) == 2
    assert time.perf_counter() - started < 1.0
    err = capsys.readouterr().err
    assert err.startswith(f"run-suite: error: {path}{expected}") and err.count("\n") == 1
    assert "Traceback" not in err


def test_measure_settings_are_plain_values():
    assert MeasureSettings(scenario="per_query").queries == 32
