"""What a workload instance is and what a kernel hands back to the harness.

A family builds ``WorkloadInstance`` objects from one point of its parameter grid. The
harness asks an instance for its inputs (built once per build group, seeded), the input
batches it feeds the kernel (several, rotated, so a kernel that caches its output cannot
look fast; single queries in the ``per_query`` scenario), the float64 reference of each
batch, the work of one call and to check a kernel's output. A kernel answers with a
``Prepared``: ``run(batch)``, the call the harness times, plus what it needs to judge it.

Contract v1 kernels (``run()`` with no argument, closing over ``inputs``) keep working:
the harness feeds them batch 0, which every family makes equal to the batch its inputs
hold, and records the flag ``v1-kernel`` (rotation cannot protect them).
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

    ``run(batch)`` is the call the harness times; it returns the output on the kernel's
    device (``run()`` without a parameter is the v1 contract, see the module docstring).
    ``to_host(output)`` brings it back as numpy for checking (not timed); ``put(batch)``
    moves a host batch to the kernel's device once, before timing (a GPU kernel uploads
    here, so the transfer is not timed).
    ``flops`` / ``bytes_min``: what this kernel's format executes and must move, when it
    differs from the instance's (CSR indices, N:M metadata, dense FLOPs of a dense kernel).
    ``simulated_time_s``: set by simulated devices, whose time comes from the model.
    ``info``: JSON-able extras that go to the record (format bytes, cycles, energy...).
    ``overhead_only``: the call does no real work (the null system): its time is harness
    overhead, so no throughput, utilization or cost is derived and it is not ranked.
    ``artifact_bytes``: bytes of what prepare built (index, compressed weights, pruned
    model) when the kernel did not build it through ``ctx.shared``.
    ``semantics``: what the kernel declares about its own answer (e.g. ``{"drops_tokens":
    True}`` for a capacity-limited MoE kernel); families read it in ``check`` and it goes
    to the record.
    """

    run: Callable[..., Any]
    to_host: Callable[[Any], Any] = staticmethod(lambda out: out)  # type: ignore[assignment]
    put: Callable[[Any], Any] = staticmethod(lambda batch: batch)  # type: ignore[assignment]
    flops: float | None = None
    bytes_min: float | None = None
    simulated_time_s: float | None = None
    energy_j: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    overhead_only: bool = False
    artifact_bytes: int | None = None
    semantics: dict[str, Any] = field(default_factory=dict)


class WorkloadInstance(ABC):
    """One family with concrete parameters. Subclasses set ``family``, ``params``, ``seed``.

    ``build_inputs()`` makes what every system of the build group shares (weights, a
    collection); ``batches(inputs, count, scenario)`` what one call computes: ``count``
    batches (``batch``) or single queries (``per_query``), the first of them the batch the
    inputs themselves hold; ``reference(inputs, batch)`` its exact answer; ``work(inputs,
    batch)`` the FLOPs and bytes of one call; ``check(output, reference, inputs, prepared,
    batch)`` the verdict. ``reference_key`` names what a reference depends on (default:
    the build group), so instances that differ in a query knob share their references.
    """

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

    def batches(self, inputs: Any, count: int, scenario: str = "batch") -> list[Any]:
        """What the harness feeds ``run``; the default is the inputs themselves, once."""
        return [inputs]

    @property
    def reference_key(self) -> str | None:
        """What this instance's references depend on beyond the build (None: nothing)."""
        return None

    @abstractmethod
    def reference(self, inputs: Any, batch: Any) -> Any:
        """The exact (float64) answer for ``batch`` the kernels are checked against."""

    @abstractmethod
    def work(self, inputs: Any, batch: Any) -> Work:
        """FLOPs, bytes and units of one call on ``batch``."""

    @abstractmethod
    def check(self, output: Any, reference: Any, inputs: Any, prepared: Prepared,
              batch: Any = None) -> Check:
        """Compare ``output`` (on the host) with ``reference``."""


def _short(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "x".join(_short(v) for v in value)
    return str(value)


def stable_hash(obj: Any, length: int = 12) -> str:
    """A short sha256 of a JSON-able object; used for config hashes and seeds."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]
