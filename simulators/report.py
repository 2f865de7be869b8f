"""What a simulation returns: ``GemmReport`` per layer and ``TopologyReport`` per network.

Both are frozen dataclasses with ``as_dict()`` (JSON-able). Cycle fields: ``compute_cycles``
(folds, fill and drain; SCALE-Sim's "Total Cycles" for the same dense layer),
``stall_cycles`` (DRAM), ``total_cycles`` = compute + stall. Utilizations are fractions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class GemmReport:
    name: str
    m: int
    n: int
    k: int
    hw: str
    dataflow: str
    rows: int
    cols: int
    folds: int
    compute_cycles: int
    stall_cycles: int
    total_cycles: int
    macs: int
    pe_utilization: float
    pe_utilization_compute: float
    mapping_efficiency: float
    compute_utilization: float
    ifmap_sram_reads: int
    filter_sram_reads: int
    ofmap_sram_writes: int
    ofmap_sram_reads: int
    metadata_sram_bytes: float
    ifmap_dram_bytes: float
    filter_dram_bytes: float
    ofmap_dram_bytes: float
    metadata_dram_bytes: float
    dram_bytes: float
    energy_breakdown_j: dict[str, float]
    energy_j: float
    time_s: float
    k_compressed_mean: float
    fallback_fraction: float
    tile_patterns: dict[str, int]
    dense_total_cycles: int | None = None
    dense_energy_j: float | None = None
    trace: Any = field(default=None, repr=False, compare=False)

    @property
    def speedup_vs_dense(self) -> float | None:
        if self.dense_total_cycles is None:
            return None
        return self.dense_total_cycles / self.total_cycles

    @property
    def energy_ratio_vs_dense(self) -> float | None:
        """This run's energy / the dense run's (below 1 saves energy)."""
        if self.dense_energy_j is None:
            return None
        return self.energy_j / self.dense_energy_j

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("trace")
        data["speedup_vs_dense"] = self.speedup_vs_dense
        data["energy_ratio_vs_dense"] = self.energy_ratio_vs_dense
        return data


@dataclass(frozen=True)
class TopologyReport:
    """A network: its layers' reports and the totals over them.

    ``counts`` (optional): how many times each report occurs in the network, so a sweep
    can keep one report per distinct layer (None: every layer once).
    """

    hw: str
    layers: tuple[GemmReport, ...]
    counts: tuple[int, ...] | None = None

    def _weights(self) -> tuple[int, ...]:
        return self.counts if self.counts is not None else (1,) * len(self.layers)

    def _sum(self, name: str) -> float:
        return sum(getattr(layer, name) * count
                   for layer, count in zip(self.layers, self._weights(), strict=True))

    @property
    def total_cycles(self) -> int:
        return int(self._sum("total_cycles"))

    @property
    def compute_cycles(self) -> int:
        return int(self._sum("compute_cycles"))

    @property
    def stall_cycles(self) -> int:
        return int(self._sum("stall_cycles"))

    @property
    def energy_j(self) -> float:
        return self._sum("energy_j")

    @property
    def time_s(self) -> float:
        return self._sum("time_s")

    @property
    def dram_bytes(self) -> float:
        return self._sum("dram_bytes")

    @property
    def pe_utilization(self) -> float:
        pes = self.layers[0].rows * self.layers[0].cols
        return self._sum("macs") / (self.total_cycles * pes)

    @property
    def speedup_vs_dense(self) -> float | None:
        if any(layer.dense_total_cycles is None for layer in self.layers):
            return None
        return self._sum("dense_total_cycles") / self.total_cycles

    @property
    def energy_ratio_vs_dense(self) -> float | None:
        if any(layer.dense_energy_j is None for layer in self.layers):
            return None
        return self.energy_j / self._sum("dense_energy_j")

    def summary(self) -> dict[str, Any]:
        return {"hw": self.hw, "layers": sum(self._weights()), "total_cycles": self.total_cycles,
                "compute_cycles": self.compute_cycles, "stall_cycles": self.stall_cycles,
                "pe_utilization": self.pe_utilization, "dram_bytes": self.dram_bytes,
                "energy_j": self.energy_j, "time_s": self.time_s,
                "speedup_vs_dense": self.speedup_vs_dense,
                "energy_ratio_vs_dense": self.energy_ratio_vs_dense}
