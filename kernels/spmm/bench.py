"""Same-run comparison of CPU SpMM kernels: ``python -m kernels.spmm.bench``.

For each shape and N:M pattern it prepares every kernel once, then times them in rounds,
interleaved: each round calls every kernel once untimed (so a switch between thread pools
does not land in the sample) and then ``--calls`` times back to back. It prints the median
per-call time, useful GFLOP/s (2 * non-zeros * N / time), the speedup over dense and the
roofline floor fraction (floor from the measured peaks; see docs/kernels-spmm.md).

Idle BLAS/OpenMP pools must sleep (``suite.threads``), or the dense baseline's spinning
threads slow whichever kernel is timed next. Those variables are read when numpy loads its
BLAS, which happens on ``import kernels.spmm`` before this module runs, so ``main`` re-runs
the process with them set when they are missing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from suite import threads
from suite.devices import CpuDevice
from suite.metrics import roofline_floor_s
from suite.registry import KernelContext, find_kernel, make_device
from suite.workloads.spmm import build

KERNELS = ("dense", "scipy-csr", "csr-numba", "mkl-csr", "nm-numba")


def prepare_all(instance, names):
    inputs = instance.build_inputs()
    ctx = KernelContext(device=make_device("cpu"))
    ready = {}
    for name in names:
        spec = find_kernel("spmm", name, "cpu")
        try:
            ready[name] = spec.prepare(instance, inputs, ctx)
        except Exception as exc:  # a peer that cannot load is reported, not fatal
            print(f"  {name}: skipped ({exc})")
    return inputs, ready


def time_rounds(ready, rounds: int, calls: int) -> dict[str, list[float]]:
    samples = {name: [] for name in ready}
    for _ in range(rounds):
        for name, prep in ready.items():
            prep.run()
            start = time.perf_counter()
            for _ in range(calls):
                prep.run()
            samples[name].append((time.perf_counter() - start) / calls)
    return samples


def report(instance, inputs, ready, samples, peaks) -> None:
    useful = 2.0 * np.count_nonzero(inputs.weight) * instance.n
    dense_s = float(np.median(samples["dense"]))
    print(f"{instance.label}")
    for name, prep in ready.items():
        t = float(np.median(samples[name]))
        floor = roofline_floor_s(prep.flops, prep.bytes_min, peaks.flops_per_s, peaks.bytes_per_s)
        print(f"  {name:10s} {t * 1e3:8.2f} ms  {useful / t / 1e9:6.1f} useful GFLOP/s  "
              f"{prep.flops / t / 1e9:6.1f} executed GFLOP/s  x{dense_s / t:5.2f} vs dense  "
              f"floor {floor * 1e3:6.2f} ms ({floor / t:4.0%})")


def _quiet_pools_or_reexec(argv) -> None:
    """Re-run ``python -m kernels.spmm.bench`` with suite.threads' settings if any is unset."""
    if all(name in os.environ for name in threads.QUIET_POOLS):
        return
    threads.apply()
    args = list(sys.argv[1:] if argv is None else argv)
    os.execv(sys.executable, [sys.executable, "-m", "kernels.spmm.bench", *args])


def main(argv=None) -> None:
    _quiet_pools_or_reexec(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="1024x1024x1024", help="MxKxN[,MxKxN...]")
    parser.add_argument("--patterns", default="2:4,1:4,2:8,1:8")
    parser.add_argument("--kernels", default=",".join(KERNELS))
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=3)
    args = parser.parse_args(argv)
    peaks = CpuDevice("cpu").measure_peaks()
    print(f"peaks: {peaks.flops_per_s / 1e9:.0f} GFLOP/s, {peaks.bytes_per_s / 1e9:.1f} GB/s "
          f"({peaks.method})")
    for shape in args.shapes.split(","):
        m, k, n = (int(v) for v in shape.split("x"))
        for pattern in args.patterns.split(","):
            instance = build({"shape": [m, k], "n": n, "pattern": pattern}, seed=0)
            inputs, ready = prepare_all(instance, args.kernels.split(","))
            samples = time_rounds(ready, args.rounds, args.calls)
            report(instance, inputs, ready, samples, peaks)


if __name__ == "__main__":
    main()
