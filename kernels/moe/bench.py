"""Time the CPU MoE kernels side by side: ``python -m kernels.moe.bench [--repeats 9]``.

A thin wrapper over the harness's measurement (``suite.bench``): each kernel of one
instance is validated on every input batch, then all are timed round-robin, one sample
each per round, so machine noise hits them alike; the table shows medians and same-run
ratios. The extra row ``loop[blas=1]`` is a diagnostic: the per-expert loop with BLAS
pinned to one thread (the loop kernel's ``blas_threads`` option), which separates the
grouped kernel's scheduling win (single-threaded GEMMs spread over threads) from its
algorithmic one (one sort, cache-sized chunks, fused combine).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace

from suite.bench import BENCH_SETTINGS, measure_kernels

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


def bench_case(params: dict, repeats: int, seed: int = 0) -> list[dict]:
    kernels = {k: (k, {}) for k in KERNELS}
    kernels[PINNED] = ("loop", {"blas_threads": 1})
    settings = replace(BENCH_SETTINGS, min_repeats=repeats, max_repeats=max(repeats, 30))
    bench = measure_kernels("moe", params, kernels, settings, seed=seed)
    dense_s, loop_s = bench.median_s("dense"), bench.median_s("loop")
    rows = []
    for label, outcome in bench.outcomes.items():
        t = bench.median_s(label)
        accuracy = outcome.check.accuracy if outcome.check else {}
        rows.append({"instance": bench.instance.label, "kernel": label,
                     "status": outcome.status, "reason": outcome.reason,
                     "median_ms": t * 1e3 if t else float("nan"),
                     "tokens_per_s": bench.instance.tokens / t if t else float("nan"),
                     "vs_dense": dense_s / t if t and dense_s else float("nan"),
                     "vs_loop": loop_s / t if t and loop_s else float("nan"),
                     "valid": bool(outcome.check and outcome.check.valid
                                   and outcome.status == "ok"), **accuracy})
    return rows


def print_table(rows: list[dict], load: str = "?") -> None:
    head = (f"{'instance':48} {'kernel':12} {'median_ms':>10} {'tokens/s':>10} {'vs_dense':>8} "
            f"{'vs_loop':>8} {'rel_err_sem':>11} {'rel_err':>8} {'dropped':>7} {'valid':>5}")
    print(f"load average (1, 5, 15 min) before the run: {load}; after: {_load()}")
    print(head)
    for r in rows:
        if r["status"] != "ok":
            print(f"{r['instance']:48} {r['kernel']:12} {r['status']}: {r['reason']}")
            continue
        print(f"{r['instance']:48} {r['kernel']:12} {r['median_ms']:10.3f} "
              f"{r['tokens_per_s']:10.0f} {r['vs_dense']:8.2f} {r['vs_loop']:8.2f} "
              f"{r.get('rel_error_vs_semantics', float('nan')):11.1e} "
              f"{r.get('rel_error', float('nan')):8.1e} "
              f"{r.get('dropped_token_rate', float('nan')):7.3f} {str(r['valid']):>5}")


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
