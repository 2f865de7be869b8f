"""Time the CPU MoE kernels side by side: ``python -m kernels.moe.bench [--repeats 9]``.

Kernels of one instance are timed interleaved (round-robin, one sample each per round) so
machine noise hits them alike; the table shows medians and same-run ratios. Each result is
checked against the float64 reference before its time is shown. The extra row
``loop[blas=1]`` is a diagnostic, not a kernel: the per-expert loop with BLAS pinned to one
thread, which separates the grouped kernel's scheduling win (single-threaded GEMMs spread
over threads) from its algorithmic one (one sort, cache-sized chunks, fused combine).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from suite.registry import KernelContext, find_kernel, make_device
from suite.workloads import moe

KERNELS = ("dense", "loop", "grouped", "capacity")
PINNED = "loop[blas=1]"
CASES = [  # 64 experts top-6 (DeepSeek-MoE shapes / 8), uniform and Zipf-skewed, prefill/decode
    {"model": "deepseek-moe-16b", "scale": 8, "tokens": 512},
    {"model": "deepseek-moe-16b", "scale": 8, "tokens": 512, "routing": "zipf(1.2)"},
    {"model": "deepseek-moe-16b", "scale": 8, "tokens": 8},
    {"model": "deepseek-moe-16b", "scale": 32, "tokens": 512, "routing": "zipf(1.2)"},
    {"model": "qwen1.5-moe-a2.7b", "scale": 8, "tokens": 512, "routing": "zipf(1.2)"},
    {"model": "mixtral-8x7b", "scale": 16, "tokens": 512},
    {"model": "switch-base-128", "scale": 4, "tokens": 512, "routing": "zipf(1.2)"},
]


def time_interleaved(prepared: dict, repeats: int, min_sample_s: float = 0.02) -> dict:
    """Median seconds per call of each kernel, sampled round-robin."""
    number = {}
    for name, prep in prepared.items():
        start = time.perf_counter()
        prep.run()
        number[name] = max(1, int(min_sample_s / max(time.perf_counter() - start, 1e-9)))
    samples: dict[str, list[float]] = {name: [] for name in prepared}
    for _ in range(repeats):
        for name, prep in prepared.items():
            start = time.perf_counter()
            for _ in range(number[name]):
                prep.run()
            samples[name].append((time.perf_counter() - start) / number[name])
    return {name: float(np.median(s)) for name, s in samples.items()}


def bench_case(params: dict, repeats: int, seed: int = 0) -> list[dict]:
    inst = moe.build(params, seed)
    inputs = inst.build_inputs()
    ref = inst.reference(inputs)
    ctx = KernelContext(device=make_device("cpu"))
    prepared = {k: find_kernel("moe", k, "cpu").prepare(inst, inputs, ctx) for k in KERNELS}
    prepared[PINNED] = _SingleThreadBlas(prepared["loop"])
    checks = {k: inst.check(p.to_host(p.run()), ref, inputs, p) for k, p in prepared.items()}
    medians = time_interleaved(prepared, repeats)
    return [{"instance": inst.label, "kernel": k, "median_ms": medians[k] * 1e3,
             "tokens_per_s": inst.tokens / medians[k],
             "vs_dense": medians["dense"] / medians[k], "vs_loop": medians["loop"] / medians[k],
             "valid": checks[k].valid, **checks[k].accuracy} for k in prepared]


class _SingleThreadBlas:
    """A prepared kernel run with BLAS limited to one thread (diagnostic row)."""

    def __init__(self, prepared):
        from threadpoolctl import ThreadpoolController

        self.prepared = prepared
        self.blas = ThreadpoolController().select(user_api="blas")
        self.to_host, self.dropped = prepared.to_host, None

    def run(self):
        with self.blas.limit(limits=1):
            return self.prepared.run()


def print_table(rows: list[dict], load: str = "?") -> None:
    head = (f"{'instance':48} {'kernel':12} {'median_ms':>10} {'tokens/s':>10} {'vs_dense':>8} "
            f"{'vs_loop':>8} {'rel_err_sem':>11} {'rel_err':>8} {'dropped':>7} {'valid':>5}")
    print(f"load average (1, 5, 15 min) before the run: {load}; after: {_load()}")
    print(head)
    for r in rows:
        print(f"{r['instance']:48} {r['kernel']:12} {r['median_ms']:10.3f} "
              f"{r['tokens_per_s']:10.0f} {r['vs_dense']:8.2f} {r['vs_loop']:8.2f} "
              f"{r['rel_error_vs_semantics']:11.1e} {r['rel_error']:8.1e} "
              f"{r['dropped_token_rate']:7.3f} {str(r['valid']):>5}")


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="samples per kernel (>= 7)")
    parser.add_argument("--case", type=int, action="append",
                        help=f"index into CASES (0..{len(CASES) - 1}); default all")
    args = parser.parse_args(argv)
    load = _load()
    rows = []
    for i in args.case if args.case is not None else range(len(CASES)):
        rows += bench_case(CASES[i], max(7, args.repeats))
    print_table(rows, load)


if __name__ == "__main__":
    main()
