"""Same-run comparison of CPU SpMM kernels: ``python -m kernels.spmm.bench``.

A thin wrapper over the harness's measurement (``suite.bench``): for each shape and N:M
pattern every kernel is validated on every input batch, warmed up and timed round-robin
with the dense baseline. It prints the median per-call time, useful GFLOP/s (2 * non-zeros
* N / time), executed GFLOP/s, the speedup over dense and the roofline floor fraction
(floor from the measured peaks; see docs/kernels-spmm.md).

Idle BLAS/OpenMP pools must sleep (``suite.threads``), or the dense baseline's spinning
threads slow whichever kernel is timed next. Those variables are read when numpy loads its
BLAS, which happens on ``import kernels.spmm`` before this module runs, so ``main`` re-runs
the process with them set when they are missing.
"""

from __future__ import annotations

import argparse
import os
import sys

from suite import threads
from suite.bench import BENCH_SETTINGS, Bench, measure_kernels
from suite.devices import CpuDevice, Peaks
from suite.metrics import roofline_floor_s

KERNELS = ("dense", "scipy-csr", "csr-numba", "mkl-csr", "nm-numba", "csr16-numba",
           "bitmap-numba")


def kernel_variants(names: str) -> dict[str, tuple[str, dict]]:
    """``nm-numba,nm-numba@avx2`` -> label -> (kernel, options): ``@isa`` runs a kernel with
    its ``isa`` option (the narrower micro-kernels on a wider CPU), in the same run."""
    variants = {}
    for label in (item.strip() for item in names.split(",") if item.strip()):
        name, _, isa_name = label.partition("@")
        variants[label] = (name, {"isa": isa_name} if isa_name else {})
    return variants


def report(bench: Bench, peaks: Peaks) -> None:
    load = os.getloadavg()[0]
    print(f"{bench.instance.label}  (load average {load:.2f} on {os.cpu_count()} CPUs)")
    dense_s = bench.median_s("dense")
    for name, outcome in bench.outcomes.items():
        t = bench.median_s(name)
        if t is None:
            print(f"  {name:18s} {outcome.status}: {outcome.reason}")
            continue
        prep = outcome.prepared
        flops = prep.flops if prep.flops is not None else bench.work.flops_useful
        moved = prep.bytes_min if prep.bytes_min is not None else bench.work.bytes_min
        floor = roofline_floor_s(flops, moved, peaks.flops_per_s, peaks.bandwidth_for(moved))
        ratio = f"x{dense_s / t:5.2f}" if dense_s else "  -   "
        path = prep.info.get("path", "")
        print(f"  {name:18s} {t * 1e3:8.3f} ms  {bench.work.flops_useful / t / 1e9:6.1f} useful "
              f"GFLOP/s  {flops / t / 1e9:6.1f} executed GFLOP/s  {ratio} vs dense  "
              f"floor {floor * 1e3:7.3f} ms ({floor / t:4.0%}) {path}")


def _split_patterns(text: str) -> list[str]:
    """Split on commas outside parentheses: ``2:4,unstructured(0.1),block(4,0.25)``."""
    out, depth, word = [], 0, ""
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            out.append(word)
            word = ""
        else:
            word += ch
    return [p for p in [*out, word] if p]


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
    parser.add_argument("--kernels", default=",".join(KERNELS),
                        help="names, each optionally @avx2 / @generic (the isa option)")
    parser.add_argument("--repeats", type=int, default=BENCH_SETTINGS.min_repeats,
                        help="samples per kernel at least")
    args = parser.parse_args(argv)
    settings = BENCH_SETTINGS.__class__(**{**vars(BENCH_SETTINGS),
                                           "min_repeats": args.repeats,
                                           "max_repeats": max(args.repeats, 30)})
    peaks = CpuDevice("cpu").measure_peaks()
    print(f"peaks: {peaks.flops_per_s / 1e9:.0f} GFLOP/s, {peaks.bytes_per_s / 1e9:.1f} GB/s "
          f"({peaks.method})")
    kernels = {"dense": ("dense", {}), **{label: v for label, v in
                                           kernel_variants(args.kernels).items()
                                           if label != "dense"}}
    for shape in args.shapes.split(","):
        m, k, n = (int(v) for v in shape.split("x"))
        for pattern in _split_patterns(args.patterns):
            params = {"shape": [m, k], "n": n, "pattern": pattern}
            report(measure_kernels("spmm", params, kernels, settings), peaks)


if __name__ == "__main__":
    main()
