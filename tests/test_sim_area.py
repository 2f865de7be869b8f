"""Area model: sourced component areas add up; N:M support and SRAM cost what they should."""

from __future__ import annotations

import pytest

from simulators.area import (
    DFF_UM2_PER_BIT,
    MUX2_UM2_PER_BIT,
    area_breakdown_mm2,
    dense_pe_um2,
    nm_support_um2,
    sram_um2_per_kib,
)
from simulators.hw_config import HardwareConfig, load_hw_config
from suite.errors import UserError


def test_an_int8_pe_is_multiplier_adder_and_registers():
    # 282 (8-bit multiply) + 137 (32-bit add) + (8 + 8 + 32) flip-flops of 4.522 um^2
    assert dense_pe_um2(1) == pytest.approx(282 + 137 + 48 * 4.522)


def test_nm_support_grows_with_the_largest_group():
    two_of_four = nm_support_um2(1, 4, 2)
    assert two_of_four == pytest.approx(3 * 8 * (DFF_UM2_PER_BIT + MUX2_UM2_PER_BIT)
                                        + 2 * DFF_UM2_PER_BIT)
    assert nm_support_um2(1, 1, 2) == 0 < two_of_four < nm_support_um2(1, 8, 3)


def test_presets_cost_more_area_the_more_patterns_they_skip():
    dense, tc, flexible = (area_breakdown_mm2(load_hw_config(name))["total_mm2"]
                           for name in ("dense-32x32", "sparse-tc-32x32", "flexible-32x32"))
    assert dense < tc < flexible
    split = area_breakdown_mm2(load_hw_config("dense-32x32"))
    assert split["sram_mm2"] == pytest.approx(640 * sram_um2_per_kib(45) / 1e6)
    assert split["total_mm2"] == pytest.approx(split["pe_array_mm2"] + split["sram_mm2"])


def test_a_smaller_node_shrinks_by_the_bit_cell_ratio():
    at45 = area_breakdown_mm2(HardwareConfig())["total_mm2"]
    at7 = area_breakdown_mm2(HardwareConfig(tech_node_nm=7))["total_mm2"]
    assert at7 == pytest.approx(at45 * 0.027 / 0.346)
    with pytest.raises(UserError, match="tech_node_nm: got 10; allowed: 45 | 16 | 7 | 5"):
        HardwareConfig.from_dict({"tech_node_nm": 10})
