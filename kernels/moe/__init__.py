"""MoE kernels: ``dense`` (every expert on every token), ``loop`` (per-expert masks),
``grouped`` (sort once, contiguous per-expert GEMMs) and ``capacity`` (GShard padding).

Only the registration modules are imported here; they import numpy at top level and
CuPy inside the kernels. ``python -m kernels.moe.bench`` times the CPU kernels side by side.
"""

from kernels.moe import cpu, cuda  # noqa: F401  (registers the kernels)
