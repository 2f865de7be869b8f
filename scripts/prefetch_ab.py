"""Same-run A/B of the N = 1 decode loops' software prefetch, interleaved with dense BLAS.

    python3 scripts/prefetch_ab.py                          # 65536 x 4096 float32 (1 GiB)
    python3 scripts/prefetch_ab.py --rows 4096 --patterns 2:4,1:8

Per pattern: a seeded weight (N:M by magnitude, or unstructured at a density), the loop the
kernels use at N = 1 (bitmap expand for 2:4 and densities >= 0.5, N:M permute for 1:8,
CSR16 gather below 0.5) built twice, with ``PREFETCH_LINES = 0`` and with its default; every
output checked against float64 (relative error < 1e-5), then ``--repeats`` rounds of
(no prefetch, prefetch, dense) with suite.threads' quiet-pool settings. Prints one Markdown
row per loop: median ms, IQR / median, speedup over dense, format GB/s. The table in
docs/kernels-spmm.md ("N = 1 from DRAM with software prefetch") comes from the default run.
"""

from __future__ import annotations

import argparse
import os

from suite import threads

threads.apply()  # before numpy loads: idle BLAS / OpenMP pools sleep instead of spinning

import numpy as np  # noqa: E402
from interleaved import check_then_time  # noqa: E402  (this folder)

from kernels.spmm import (  # noqa: E402
    decode_expand,
    decode_gather,
    decode_permute,
    formats,
    formats_sparse,
    paths,
    vec_modes,
)

MODE = vec_modes.MODE_AVX512


def weight(pattern: str, rows: int, k: int, rng) -> np.ndarray:
    w = rng.standard_normal((rows, k), dtype=np.float32)
    if ":" in pattern:
        n, m = map(int, pattern.split(":"))
        groups = w.reshape(rows, k // m, m)
        np.put_along_axis(groups, np.argsort(np.abs(groups), axis=-1)[..., :m - n], 0, axis=-1)
    else:
        w[rng.random((rows, k), dtype=np.float32) > float(pattern)] = 0
    return w


def loop_for(pattern: str, w: np.ndarray):
    """(module whose PREFETCH_LINES it reads, a builder of its Path, format bytes)."""
    if pattern == "1:8":
        nm = formats.nm_compress(w, 1, 8)
        return decode_permute, lambda: paths.permute_nm_path(nm, MODE), nm.format_bytes
    if ":" not in pattern and float(pattern) < 0.5:
        csr = formats_sparse.csr_compress(w)
        return decode_gather, lambda: paths.gather_csr_path(csr, MODE), csr.format_bytes
    bm = formats_sparse.bitmap_compress(w)
    return decode_expand, lambda: paths.expand_path(bm, 1, MODE), bm.format_bytes


def variants(pattern: str, w: np.ndarray) -> tuple[dict, int]:
    module, build, format_bytes = loop_for(pattern, w)
    chosen, runs = module.PREFETCH_LINES, {}
    try:
        for ahead in (0, chosen):
            module.PREFETCH_LINES = ahead
            path = build()
            runs[f"{path.info['path']} pf{ahead}"] = path.run
    finally:
        module.PREFETCH_LINES = chosen
    return runs, format_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=65536)
    parser.add_argument("--k", type=int, default=4096)
    parser.add_argument("--patterns", default="2:4,0.5,1:8,0.1")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.k, 1), dtype=np.float32)
    print(f"load {os.getloadavg()[0]:.2f}; {args.rows} x {args.k}, N = 1, float32")
    print("| pattern | loop | ms (median) | IQR | vs dense | format GB/s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for pattern in args.patterns.split(","):
        w = weight(pattern, args.rows, args.k, rng)
        ref = w.astype(np.float64) @ x.astype(np.float64)
        runs, format_bytes = variants(pattern, w)
        runs["dense"] = lambda v, w=w: w @ v
        times = check_then_time(runs, x, ref, args.repeats, pattern)
        dense = np.median(times["dense"])
        for name, samples in times.items():
            median = np.median(samples)
            q1, q3 = np.percentile(samples, [25, 75])
            moved = w.nbytes if name == "dense" else format_bytes
            print(f"| {pattern} | {name} | {median * 1e3:.2f} | {(q3 - q1) / median:.0%} | "
                  f"{dense / median:.2f}x | {moved / median / 1e9:.1f} |", flush=True)


if __name__ == "__main__":
    main()
