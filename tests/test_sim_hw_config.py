"""Hardware configs: packaged YAML loads, every bad field is one clear line."""

from __future__ import annotations

import pytest

from simulators.hw_config import HardwareConfig, load_hw_config, packaged_hw_configs
from suite.errors import UserError


def test_packaged_configs_load():
    assert {"dense-32x32", "sparse-tc-32x32", "flexible-32x32", "sparse-tc-128x128"} <= set(
        packaged_hw_configs())
    tc = load_hw_config("sparse-tc-32x32")
    assert (tc.rows, tc.cols, tc.dataflow) == (32, 32, "ws")
    assert tc.sparsity.patterns == ((2, 4),)
    assert load_hw_config("flexible-32x32").sparsity.max_m == 8


def test_yaml_file_with_energy_override(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("rows: 8\ncols: 16\ndataflow: os\nenergy: {dram_pj_per_byte: 80}\n")
    cfg = load_hw_config(path)
    assert cfg.name == "mine" and cfg.cols == 16
    assert cfg.energy.dram_pj_per_byte == 80 and cfg.energy.mac_pj == 0.23


@pytest.mark.parametrize("fields, message", [
    ({"rows": 0}, "rows: got 0; allowed: an integer >= 1"),
    ({"dataflow": "xs"}, "dataflow: got 'xs'; allowed: os | ws | is"),
    ({"clock_ghz": -1}, "clock_ghz: got -1; allowed: a number > 0"),
    ({"colums": 8}, "unknown field 'colums'"),
    ({"sparsity": {"mode": "fixed"}}, "sparsity.patterns: got none"),
    ({"sparsity": {"mode": "flexible", "max_m": 32}}, "sparsity.max_m: got 32"),
    ({"sparsity": {"mode": "fixed", "patterns": ["4:2"]}}, "sparsity.patterns: got '4:2'"),
    ({"sparsity": {"mode": "flexible", "max_m": 8}, "metadata_bits": 2},
     "metadata_bits: got 2; allowed: >= 3 to index a group of 8"),
    ({"energy": {"mac_pj": "cheap"}}, "energy.mac_pj: got 'cheap'"),
])
def test_bad_field_is_one_line_naming_it(fields, message):
    with pytest.raises(UserError) as err:
        HardwareConfig.from_dict(fields)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_name_lists_packaged_configs():
    with pytest.raises(UserError, match="packaged: .*dense-32x32.*vegeta"):
        load_hw_config("no-such-array")


def test_replace_validates_and_keeps_the_rest():
    cfg = load_hw_config("sparse-tc-32x32").replace(rows=64)
    assert cfg.rows == 64 and cfg.sparsity.patterns == ((2, 4),)
    with pytest.raises(UserError, match="cols"):
        cfg.replace(cols=0)
