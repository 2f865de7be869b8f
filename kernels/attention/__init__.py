"""Attention kernels: dense (ours and torch SDPA) and training-free sparse methods.

Importing this package registers every kernel (``cpu``, ``cpu_select``, ``dense_best``,
``torch_sdpa``); those modules import numpy only at top level. numba loops live in
``cpu_tiles``, ``cpu_blocks``, ``cpu_dense``, ``cpu_block_sparse`` and ``cpu_lists``,
imported when a kernel is prepared; torch inside its kernels. docs/attention.md has the
methods, their FLOPs and bytes, and measurements.
"""

from kernels.attention import cpu, cpu_select, dense_best, torch_sdpa  # noqa: F401
