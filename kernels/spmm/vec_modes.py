"""Instruction-set modes of our CPU loops and their vector widths, without importing numba.

The kernels' registration (``cpu_ours``) and path choice (``paths``) need these at import
time; the LLVM helpers that use them (``llvm_vec``) import numba, so they live here.
"""

from __future__ import annotations

MODE_AVX512, MODE_AVX2, MODE_GENERIC = 0, 1, 2
MODE_OF_ISA = {"avx512": MODE_AVX512, "avx2": MODE_AVX2, "generic": MODE_GENERIC}
VECTOR_BYTES = {MODE_AVX512: 64, MODE_AVX2: 32, MODE_GENERIC: 16}


def static(*values: int) -> tuple:
    """Compile-time integers passed from Python: each value v >= 0 becomes a tuple of v + 1
    zeros, whose length is part of its numba type; jitted code turns it into a literal with
    ``literal_of``. Literals reach the intrinsics (which unroll by them) through a parallel
    function that calls ``numba.literally``; called from Python with plain ints, such a
    function pays a failed compile per call (~10 ms), called from jitted code with literal
    arguments it pays nothing."""
    return tuple((0,) * (v + 1) for v in values)
