"""What a workload instance is and what a kernel hands back to the harness.

A family builds ``WorkloadInstance`` objects from one point of its parameter grid. The
harness asks an instance for its inputs (built once, seeded), its float64 reference, its
work (FLOPs, bytes, units) and to check a kernel's output. A kernel answers with a
``Prepared``: the call to time plus what the harness needs to judge it.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Work:
    """The work of one call of an instance.

    ``flops_dense``: FLOPs of the dense computation; ``flops_useful``: FLOPs on the
    non-zeros actually present (activated experts for MoE); ``bytes_min``: the fewest bytes
    the activated data needs (non-zero values or routed experts' weights, activations in,
    output out; no indices) - the S-MBU numerator; kernels report their own format's bytes
    in ``Prepared.bytes_min`` for the roofline;
    ``units``: how many units of work one call does (``unit_name``: op, token, query).
    """

    flops_dense: float
    flops_useful: float
    bytes_min: float
    units: float = 1.0
    unit_name: str = "op"


@dataclass(frozen=True)
class Check:
    """The verdict on one output: ``valid`` is False when the result is wrong.

    ``accuracy`` holds the family's metrics (e.g. ``rel_error``); ``checks`` holds each
    test behind ``valid`` with its threshold, so a reader sees why (MLPerf's ``valid``).
    """

    valid: bool
    accuracy: dict[str, float]
    checks: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


@dataclass
class Prepared:
    """A kernel ready to run one instance.

    ``run()`` is the call the harness times; it returns the output on the kernel's device.
    ``to_host(output)`` brings it back as numpy for checking (not timed).
    ``flops`` / ``bytes_min``: what this kernel's format executes and must move, when it
    differs from the instance's (CSR indices, N:M metadata, dense FLOPs of a dense kernel).
    ``simulated_time_s``: set by simulated devices, whose time comes from the model.
    ``info``: JSON-able extras that go to the record (format bytes, cycles, energy...).
    ``overhead_only``: the call does no real work (the null system): its time is harness
    overhead, so no throughput, utilization or cost is derived and it is not ranked.
    """

    run: Callable[[], Any]
    to_host: Callable[[Any], Any] = staticmethod(lambda out: out)  # type: ignore[assignment]
    flops: float | None = None
    bytes_min: float | None = None
    simulated_time_s: float | None = None
    energy_j: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    overhead_only: bool = False


class WorkloadInstance(ABC):
    """One family with concrete parameters. Subclasses set ``family``, ``params``, ``seed``."""

    family: str
    params: dict[str, Any]
    seed: int

    @property
    def instance_id(self) -> str:
        """A stable, readable key: the family and its parameters, e.g. ``spmm/m=64,...``."""
        body = ",".join(f"{k}={_short(v)}" for k, v in sorted(self.params.items()))
        return f"{self.family}/{body}/seed={self.seed}"

    @property
    def label(self) -> str:
        """A short name for tables; families override it."""
        return self.instance_id

    @abstractmethod
    def build_inputs(self) -> Any:
        """Make the inputs from ``seed`` (called once per instance)."""

    @abstractmethod
    def reference(self, inputs: Any) -> Any:
        """The exact (float64) answer the kernels are checked against."""

    @abstractmethod
    def work(self, inputs: Any) -> Work:
        """FLOPs, bytes and units of one call on these inputs."""

    @abstractmethod
    def check(self, output: Any, reference: Any, inputs: Any, prepared: Prepared) -> Check:
        """Compare ``output`` (on the host) with ``reference``."""


def _short(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "x".join(_short(v) for v in value)
    return str(value)


def stable_hash(obj: Any, length: int = 12) -> str:
    """A short sha256 of a JSON-able object; used for config hashes and seeds."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]
