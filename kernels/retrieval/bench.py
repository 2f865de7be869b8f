"""Same-run retrieval sweeps at scale: ``python -m kernels.retrieval.bench --docs 1000000``.

A thin wrapper over the harness's measurement (``suite.bench``): one generated collection,
per-query scenario (one query per call, one thread), every system validated on every
query, warmed up and timed round-robin with the exact baseline. ``--group seismic`` runs
our Seismic against pyseismic-lsr over the same query-option sweep (one index build each);
``--group blocks`` the block-max family (ours safe and approximate, bmp). Groups run
apart so that a 1M-document run holds only one group's indexes in memory. Prints, and
writes to ``--out`` (JSON rows, the Pareto plot, the cost table), recall@10, QPS, p50 and
p99 latency, index bytes and build time per system; the load average with each figure.
``--cost-growth DIR DIR ...`` reads the ``bench-*.json`` of earlier runs at several sizes
and writes their cost-growth table (``retrieval_plot.cost_growth``) to ``--out`` (a file):
``python -m kernels.retrieval.bench --cost-growth results/retrieval-10k results/retrieval-100k
results/retrieval-1m --out results/retrieval-cost-growth.md``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from suite import threads
from suite.config import MeasureSettings

SWEEP = [(5, 0.9), (10, 0.9), (10, 0.8), (20, 0.8), (30, 0.7)]
GROUPS = {
    "seismic": {"exact": ("exact", {}),
                **{f"{k} qc={c} hf={h}": (k, {"query_cut": c, "heap_factor": h})
                   for k in ("seismic-numba", "seismic") for c, h in SWEEP}},
    "blocks": {"exact": ("exact", {}), "block-max": ("block-max", {}),
               "block-max a=0.9": ("block-max", {"alpha": 0.9}),
               "block-max a=0.8": ("block-max", {"alpha": 0.8}),
               "block-max budget=400": ("block-max", {"budget": 400}),
               "daat": ("daat", {}), "daat a=0.9": ("daat", {"alpha": 0.9}),
               "bmp": ("bmp", {}), "bmp a=0.9": ("bmp", {"alpha": 0.9}),
               "bmp bsize=8": ("bmp", {"bsize": 8})},
}


def row(label: str, kernel: str, options: dict, outcome, docs: int) -> dict:
    samples = sorted(outcome.samples_s)
    use = outcome.uses[0] if outcome.uses else None
    pick = (lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]) if samples else None
    return {"label": label, "kernel": kernel, "system": label, "options": options,
            "status": outcome.status, "reason": outcome.reason,
            "accuracy": dict(outcome.check.accuracy) if outcome.check else {},
            "median_s": pick(0.5) if pick else None, "p99_s": pick(0.99) if pick else None,
            "throughput_units_per_s": 1.0 / pick(0.5) if pick else None,
            "samples": len(samples), "build_s": use.build_s if use else None,
            "artifact_bytes": use.nbytes if use else None, "docs": docs,
            "load_average": os.getloadavg()}


def main(argv: list[str] | None = None) -> int:
    threads.apply()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--group", choices=sorted(GROUPS), default="seismic")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--cost-growth", type=Path, nargs="+", default=None, metavar="DIR",
                        help="tabulate earlier runs' bench-*.json instead of measuring")
    args = parser.parse_args(argv)
    if args.cost_growth:
        return _cost_growth(args.cost_growth, args.out)
    from suite.bench import measure_kernels

    settings = MeasureSettings(warmup=2, min_repeats=args.queries, max_repeats=2 * args.queries,
                               min_time_s=0.5, scenario="per_query", queries=args.queries,
                               max_time_s=7200.0)
    kernels = GROUPS[args.group]
    bench = measure_kernels("retrieval", {"docs": args.docs, "batch": 1}, kernels, settings)
    rows = [row(label, k, o, bench.outcomes[label], args.docs) for label, (k, o) in kernels.items()]
    for r in rows:
        print(_line(r), flush=True)
    if args.out:
        _write(args.out, args.group, rows)
    return 0


def _line(r: dict) -> str:
    if r["status"] != "ok":
        return f"{r['label']:<28} {r['status']}: {r['reason']}"
    mb = (r["artifact_bytes"] or 0) / 1e6
    return (f"{r['label']:<28} recall@10 {r['accuracy'].get('recall@10', float('nan')):.4f}  "
            f"QPS {r['throughput_units_per_s']:9.1f}  p50 {1e3 * r['median_s']:.3f} ms  "
            f"p99 {1e3 * r['p99_s']:.3f} ms  index {mb:,.0f} MB  build "
            f"{r['build_s'] or 0:.1f} s  load {r['load_average'][0]:.2f}")


def _frame(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame(rows).assign(
        instance_label=[f"generated {r['docs']:,}" for r in rows], scenario="per_query",
        device="cpu", params=[{"collection": "generated", "docs": r["docs"]} for r in rows])


def _write(out: Path, group: str, rows: list[dict]) -> None:
    from suite.workloads.retrieval_plot import draw

    out.mkdir(parents=True, exist_ok=True)
    (out / f"bench-{group}.json").write_text(json.dumps(rows, indent=1, default=str))
    for path in draw(_frame(rows), out):
        path.rename(out / (f"pareto-{group}.png" if path.suffix == ".png"
                           else f"{group}-{path.name}"))


def _cost_growth(dirs: list[Path], out: Path | None) -> int:
    from suite.errors import UserError
    from suite.workloads.retrieval_plot import cost_growth

    files = [f for d in dirs for f in sorted(Path(d).glob("bench-*.json"))]
    if not files:
        raise UserError(f"--cost-growth: no bench-*.json in {', '.join(map(str, dirs))}; "
                        "run the bench with --out DIR first")
    rows = [r for f in files for r in json.loads(f.read_text())]
    loads = [f"{f.parent.name}/{f.name}: load {json.loads(f.read_text())[0]['load_average'][0]:.2f}"
             for f in files]
    text = ("Single thread, per-query scenario (`python -m kernels.retrieval.bench`), 200 "
            "queries per system.\n\n" + cost_growth(_frame(rows))
            + "\nOne-minute load average when measured: " + "; ".join(loads) + ".\n")
    if out is None:
        print(text, end="")
    else:
        out.write_text(text)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
