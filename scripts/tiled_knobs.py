"""Sweep of the large-N tiled loop's blocking (rows per task x L1 slab), same run, vs dense.

    python3 scripts/tiled_knobs.py                                   # 1024^3 1:4
    python3 scripts/tiled_knobs.py --shape 2048x2048x1024 --pattern 2:4 --rows 256,512

Builds ``kernels.spmm.paths.tiled_nm_path`` once per (``ROWS_PER_TASK``, ``SLAB_BYTES``)
setting, checks every output against float64, then times ``--repeats`` interleaved rounds
of all settings and dense BLAS (suite.threads' quiet-pool settings). The sweep in
docs/kernels-spmm.md ("Large N, 1:4 at 1024^3, re-examined") comes from it.
"""

from __future__ import annotations

import argparse

from suite import threads

threads.apply()  # before numpy loads: idle BLAS / OpenMP pools sleep instead of spinning

import numpy as np  # noqa: E402
from interleaved import check_then_time  # noqa: E402  (this folder)

from kernels.spmm import formats, paths, tiled, vec_modes  # noqa: E402

MODE = vec_modes.MODE_AVX512


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", default="1024x1024x1024", help="MxKxN")
    parser.add_argument("--pattern", default="1:4", help="n:m")
    parser.add_argument("--rows", default="64,128,256,512", help="rows per task to try")
    parser.add_argument("--slab-kib", default="16,24,32,40,48,64", help="L1 slab sizes")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    m_rows, k, n_cols = map(int, args.shape.split("x"))
    n, m = map(int, args.pattern.split(":"))
    rng = np.random.default_rng(0)
    w = rng.standard_normal((m_rows, k), dtype=np.float32)
    groups = w.reshape(m_rows, k // m, m)
    np.put_along_axis(groups, np.argsort(np.abs(groups), axis=-1)[..., :m - n], 0, axis=-1)
    nm = formats.nm_compress(w, n, m)
    x = rng.standard_normal((k, n_cols), dtype=np.float32)
    ref = w.astype(np.float64) @ x.astype(np.float64)
    runs, saved = {}, (tiled.ROWS_PER_TASK, tiled.SLAB_BYTES[MODE])
    try:
        for rows in map(int, args.rows.split(",")):
            for slab in map(int, args.slab_kib.split(",")):
                tiled.ROWS_PER_TASK, tiled.SLAB_BYTES[MODE] = rows, slab * 1024
                runs[f"rows {rows} slab {slab} KiB"] = paths.tiled_nm_path(nm, n_cols, MODE).run
    finally:
        tiled.ROWS_PER_TASK, tiled.SLAB_BYTES[MODE] = saved
    runs["dense"] = lambda v: w @ v
    times = check_then_time(runs, x, ref, args.repeats)
    dense = np.median(times["dense"])
    for name, samples in times.items():
        print(f"{name:24s} {np.median(samples) * 1e3:8.3f} ms  x{dense / np.median(samples):.2f}")


if __name__ == "__main__":
    main()
