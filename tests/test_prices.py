"""The price table behind the Cost axis: defaults, overrides, and bad price files."""

from __future__ import annotations

import pytest

from suite.errors import UserError
from suite.prices import default_prices, load_price_file, price_per_hour


def test_devices_are_charged_at_the_first_matching_row():
    assert price_per_hour("cpu") == default_prices()["cpu"]
    assert price_per_hour("NVIDIA H100 80GB HBM3") == default_prices()["H100"]
    assert price_per_hour("NVIDIA H200") == default_prices()["H200"]


def test_overrides_win_over_the_table():
    assert price_per_hour("cpu", {"cpu": 0.5}) == 0.5
    assert price_per_hour("some accelerator", {"accelerator": 9.0}) == 9.0
    assert price_per_hour("some accelerator") is None


def test_a_price_file_must_map_names_to_numbers(tmp_path):
    good = tmp_path / "p.yaml"
    good.write_text("cpu: 0.2\nH100: 2.5\n")
    assert load_price_file(str(good)) == {"cpu": 0.2, "H100": 2.5}
    bad = tmp_path / "bad.yaml"
    bad.write_text("cpu: cheap\n")
    with pytest.raises(UserError, match="--prices: .*must map device names to US\\$ per hour"):
        load_price_file(str(bad))
    with pytest.raises(UserError, match="--prices: cannot read"):
        load_price_file(str(tmp_path / "missing.yaml"))
