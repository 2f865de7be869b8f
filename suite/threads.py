"""Thread-pool settings that keep interleaved timing fair; applied before numpy loads.

After a call, OpenBLAS worker threads busy-wait for about 0.1 s of CPU (measured here:
0.11 s of CPU time in the half second after one 1024^3 GEMM), and OpenMP runtimes do the
same. In an interleaved run that steals a core from whichever system is timed next, so the
dense baseline would slow down its competitors. Idle thread pools are told to sleep at
once instead. Values the user set in the environment win. Main entry: ``apply()``.
"""

from __future__ import annotations

import os

QUIET_POOLS = {
    "OPENBLAS_THREAD_TIMEOUT": "4",  # 2^4 cycles of spinning, the minimum OpenBLAS allows
    "OMP_WAIT_POLICY": "PASSIVE",    # OpenMP (numba's omp layer, MKL) sleeps when idle
    "KMP_BLOCKTIME": "0",            # the same for Intel's OpenMP runtime (MKL)
}


def apply() -> dict[str, str]:
    """Set the defaults that are not set yet; returns the values in force."""
    for name, value in QUIET_POOLS.items():
        os.environ.setdefault(name, value)
    return {name: os.environ[name] for name in QUIET_POOLS}
