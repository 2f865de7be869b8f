"""Silicon area of a configured array: PEs (with and without N:M support) and SRAM, per node.

Entry point: ``area_breakdown_mm2(cfg) -> dict`` (``pe_array_mm2``, ``nm_support_mm2``,
``sram_mm2``, ``total_mm2``). Cost: arithmetic on the config; no simulation.

Every constant, its value and its source (45 nm unless said):

* MAC datapath (Horowitz, "Computing's energy problem (and what we can do about it)",
  ISSCC 2014, area table): 8-bit integer multiply 282 um^2, 32-bit add 137 um^2; 16-bit FP
  multiply 1,640 um^2; 32-bit FP multiply 7,700 um^2, 32-bit FP add 4,184 um^2.
  ``word_bytes`` 1 = int8 x int8 into an int32 accumulator; 2 = fp16 multiply into fp32;
  4 = fp32.
* Registers and muxes (NanGate FreePDK45 Open Cell Library): DFF_X1 4.522 um^2 per bit,
  MUX2_X1 1.862 um^2 per bit.
* A PE holds two operand registers of one word and a 32-bit accumulator.
* N:M support per PE: the PE must hold (or pass on) a group of M activations instead of
  one, so (M-1) more word registers; an M:1 operand mux, built of (M-1) 2:1 muxes per bit;
  a ``metadata_bits`` index register. The index bits drive the mux selects directly, so
  decoding adds no gates. M is the largest group the hardware supports.
* SRAM: 6T bit cell 0.346 um^2 at 45 nm (Intel, Mistry et al., IEDM 2007), 0.07 um^2 at
  16 nm (TSMC, Wu et al., IEDM 2013), 0.027 um^2 at 7 nm (TSMC, Wu et al., IEDM 2016),
  0.021 um^2 at 5 nm (TSMC, Yeap et al., IEDM 2019). *Assumption*: bit cells fill 70% of
  a macro (decoders, sense amplifiers and I/O the rest).
* Other nodes than 45 nm: *assumption*, logic shrinks by the same ratio as the bit cell
  (first order; logic usually shrinks a little less). Energy stays the 45 nm table.

Not modelled: the array's control, the DRAM PHY, wiring between buffers and array.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulators.hw_config import HardwareConfig

UM2_PER_MM2 = 1e6
DFF_UM2_PER_BIT = 4.522
MUX2_UM2_PER_BIT = 1.862
ACCUMULATOR_BITS = 32
# word_bytes -> (multiplier, accumulator adder) area at 45 nm, um^2 (Horowitz ISSCC 2014)
MAC_UM2 = {1: (282.0, 137.0), 2: (1640.0, 4184.0), 4: (7700.0, 4184.0)}
SRAM_BITCELL_UM2 = {45: 0.346, 16: 0.07, 7: 0.027, 5: 0.021}
TECH_NODES_NM = tuple(sorted(SRAM_BITCELL_UM2, reverse=True))
SRAM_ARRAY_EFFICIENCY = 0.7


def node_scale(node_nm: int) -> float:
    """Area of a 45 nm circuit at ``node_nm``, as a fraction (bit-cell ratio)."""
    return SRAM_BITCELL_UM2[node_nm] / SRAM_BITCELL_UM2[45]


def largest_group(cfg: HardwareConfig) -> int:
    """The M the operand mux must choose among (1: the PEs cannot skip zeros)."""
    return max([m for _, m in cfg.sparsity.candidates()], default=1)


def dense_pe_um2(word_bytes: int) -> float:
    multiplier, adder = MAC_UM2[word_bytes]
    registers = (2 * 8 * word_bytes + ACCUMULATOR_BITS) * DFF_UM2_PER_BIT
    return multiplier + adder + registers


def nm_support_um2(word_bytes: int, group: int, metadata_bits: int) -> float:
    """What one PE adds to skip zeros of groups up to ``group``: registers, mux, index."""
    if group <= 1:
        return 0.0
    bits = 8 * word_bytes
    return (group - 1) * bits * (DFF_UM2_PER_BIT + MUX2_UM2_PER_BIT) + \
        metadata_bits * DFF_UM2_PER_BIT


def sram_um2_per_kib(node_nm: int) -> float:
    return 8 * 1024 * SRAM_BITCELL_UM2[node_nm] / SRAM_ARRAY_EFFICIENCY


def area_breakdown_mm2(cfg: HardwareConfig) -> dict[str, float]:
    scale = node_scale(cfg.tech_node_nm)
    pes = cfg.rows * cfg.cols
    pe = pes * dense_pe_um2(cfg.word_bytes) * scale / UM2_PER_MM2
    nm = pes * nm_support_um2(cfg.word_bytes, largest_group(cfg), cfg.metadata_bits) * scale \
        / UM2_PER_MM2
    kib = cfg.ifmap_sram_kib + cfg.filter_sram_kib + cfg.ofmap_sram_kib
    sram = kib * sram_um2_per_kib(cfg.tech_node_nm) / UM2_PER_MM2
    return {"pe_array_mm2": pe, "nm_support_mm2": nm, "sram_mm2": sram,
            "total_mm2": pe + nm + sram}
