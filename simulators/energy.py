"""Energy of one simulated GEMM from event counts and the config's ``EnergyTable``.

Entry point: ``energy_breakdown_j(cfg, macs, mem) -> dict`` (joules per component).
MACs executed (padding slots of a kept pattern included), SRAM bytes per buffer (reads and
writes, plus metadata bytes read with the weights), DRAM bytes, and one index decode per
sparse weight entering the array. Static/leakage energy is not modelled.
"""

from __future__ import annotations

from simulators.hw_config import HardwareConfig
from simulators.memory import MemoryResult

PJ = 1e-12


def energy_breakdown_j(cfg: HardwareConfig, macs: int, mem: MemoryResult) -> dict[str, float]:
    table, wb = cfg.energy, cfg.word_bytes
    return {
        "mac_j": macs * table.mac_pj * PJ,
        "ifmap_sram_j": mem.ifmap_sram_reads * wb * table.ifmap_sram_pj_per_byte * PJ,
        "filter_sram_j": (mem.filter_sram_reads * wb + mem.metadata_sram_bytes)
        * table.filter_sram_pj_per_byte * PJ,
        "ofmap_sram_j": (mem.ofmap_sram_writes + mem.ofmap_sram_reads) * wb
        * table.ofmap_sram_pj_per_byte * PJ,
        "dram_j": mem.dram_bytes * table.dram_pj_per_byte * PJ,
        "metadata_decode_j": mem.metadata_decodes * table.metadata_decode_pj * PJ,
    }
