"""The ``null`` system: returns each batch's precomputed reference: its time is harness overhead.

Like MLPerf's ``backend_null``: listing ``{device: cpu, kernel: null}`` in a suite shows
how much of a measured time is the harness's own per-call cost, for every family.
"""

from __future__ import annotations

from suite.registry import ANY_FAMILY, register_kernel
from suite.workload import Prepared


@register_kernel(ANY_FAMILY, "null", device="cpu",
                 description="returns the reference: measures harness overhead")
def null_system(instance, inputs, ctx):
    lookup = ctx.reference
    if lookup is None:  # prepared outside the harness: compute the answer per call
        return Prepared(run=lambda batch: instance.reference(inputs, batch), flops=0.0,
                        bytes_min=0.0, overhead_only=True)
    return Prepared(run=lookup, flops=0.0, bytes_min=0.0, overhead_only=True)
