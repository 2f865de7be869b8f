"""The ``run-suite simulate`` command: one config or a what-if sweep over a workload.

Entry points: ``add_simulate_parser(subparsers)`` (argparse) and ``run_simulate(args) -> int``;
``python -m simulators.cli simulate ...`` runs it without the suite CLI. Bad input raises
``suite.errors.UserError`` with one line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from suite.errors import UserError

MAX_TABLE_ROWS = 30  # a sweep table longer than this is shown in part; sweep.md has it all

EXAMPLES = """\
examples:
  # one GEMM (M tokens x N outputs x K), dense weights, on a packaged config
  run-suite simulate --hw dense-32x32 --workload GEMM:128,3072,768

  # the same GEMM with 2:4 weights on a sparse-tensor-core style array
  run-suite simulate --hw sparse-tc-32x32 --workload GEMM:128,3072,768 --nm 2:4

  # a whole network (SCALE-Sim topology CSV, or the packaged bert-base)
  run-suite simulate --hw flexible-32x32 --workload bert-base --nm 1:4 --out runs/bert

  # what-if sweep: 3 array sizes x 3 weight patterns x 3 hardware supports, in parallel
  # on a local Dask cluster; the weights' pattern (nm) and what the PEs can skip
  # (hw_sparsity) are separate axes: 2:4 weights gain nothing on a dense array
  run-suite simulate --hw dense-32x32 --workload bert-base \\
      --sweep rows=16,32,64 nm=2:4,1:4,dense hw_sparsity=dense,2:4,flexible-8 \\
      --out runs/sweep --workers 2

  # a per-cycle PE activity trace of a small GEMM
  run-suite simulate --hw sparse-tc-32x32 --workload GEMM:64,64,64 --nm 2:4 --trace t.csv

workloads: GEMM:M,N,K | CONV:H,W,FH,FW,C,F,STRIDE | a topology CSV | bert-base
sweep keys: array (32x32); nm: the weights' pattern (2:4 or dense; --nm when not swept);
  hw_sparsity: the hardware's patterns (dense, 2:4, 2:4+1:4, flexible-8); and any hw config
  field: rows, cols, dataflow, clock_ghz, dram_bandwidth_bytes_per_cycle,
  dram_latency_cycles, ifmap_sram_kib, filter_sram_kib, ofmap_sram_kib, word_bytes,
  metadata_bits, tech_node_nm (45, 16, 7, 5: area only), ...
sweep output: <out>/sweep.jsonl (one line per config, streamed), sweep.csv, sweep.md,
  sweep_<key>.png (speedup, energy and area against each swept key, median and spread),
  heatmap_<a>_x_<b>.png (two-axis grid), pareto.md and pareto.png (configs not beaten on
  speedup over --hw, energy and area at once)
"""


def add_simulate_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "simulate", help="cycle-level N:M systolic-array simulation and what-if sweeps",
        description="Simulate a workload on an N:M structured-sparse systolic array: cycles, "
                    "utilization, SRAM/DRAM traffic, energy, speedup over the same array dense.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hw", required=True, metavar="FILE|NAME",
                        help="hardware config: a packaged name (dense-32x32, sparse-tc-32x32, "
                             "flexible-32x32, sparse-tc-128x128) or a YAML file")
    parser.add_argument("--workload", required=True, metavar="SPEC",
                        help="GEMM:M,N,K | CONV:H,W,FH,FW,C,F,STRIDE | TOPOLOGY-CSV | bert-base")
    parser.add_argument("--nm", metavar="N:M", help="the weights' pattern (default: dense)")
    parser.add_argument("--sweep", nargs="+", metavar="KEY=V1,V2",
                        help="sweep these values (cross product), e.g. rows=16,32 nm=2:4,dense")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="output folder (default for sweeps: runs/simulate-<time>)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="Dask scheduler address (default: a local cluster; "
                             "'synchronous' runs in this process)")
    parser.add_argument("--workers", type=int, metavar="N", help="local Dask workers (default 2)")
    parser.add_argument("--trace", type=Path, metavar="CSV",
                        help="GEMM workloads: write the per-cycle count of busy PEs")
    parser.set_defaults(func=run_simulate)
    return parser


def parse_workload(spec: str):
    """``GEMM:M,N,K``, ``CONV:...``, a topology CSV or ``bert-base`` -> layers."""
    from simulators.mapping import Gemm
    from simulators.topology import Layer, read_topology

    kind, sep, body = spec.partition(":")
    if sep and kind.upper() in ("GEMM", "CONV"):
        want = 3 if kind.upper() == "GEMM" else 7
        try:
            numbers = [int(v) for v in body.split(",")]
        except ValueError:
            numbers = []
        if len(numbers) != want or min(numbers) < 1:
            raise UserError(f"--workload {spec!r}: allowed: GEMM:M,N,K or "
                            "CONV:H,W,FH,FW,C,F,STRIDE with integers >= 1")
        gemm = Gemm("gemm", *numbers) if want == 3 else Gemm.from_conv("conv", *numbers)
        return [Layer(gemm)]
    return read_topology(spec)


def run_simulate(args: argparse.Namespace) -> int:
    from simulators.hw_config import load_hw_config, parse_nm

    cfg = load_hw_config(args.hw)
    layers = parse_workload(args.workload)
    nm = parse_nm(args.nm, "--nm") if args.nm and args.nm != "dense" else None
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers: got {args.workers}; allowed: an integer >= 1")
    if args.sweep:
        return _sweep(args, cfg, layers, nm)
    return _single(args, cfg, layers, nm)


def _single(args, cfg, layers, nm) -> int:
    from simulators.systolic import SystolicArray
    from simulators.topology import simulate_topology

    array = SystolicArray.from_config(cfg)
    report = simulate_topology(array, layers, nm=nm)
    summary = report.summary()
    for key, value in summary.items():
        print(f"{key:>22}: {_fmt(value)}")
    if args.trace:
        _write_trace(args.trace, array, layers, nm)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        body = {"summary": summary, "hw": cfg.as_dict(),
                "layers": [layer.as_dict() for layer in report.layers]}
        (args.out / "simulate.json").write_text(json.dumps(body, indent=1) + "\n")
        print(f"wrote {args.out / 'simulate.json'}")
    return 0


def _write_trace(path: Path, array, layers, nm) -> None:
    if len(layers) != 1:
        raise UserError(f"--trace: workload has {len(layers)} layers; allowed: one GEMM or conv")
    report = array.simulate_gemm(layers[0].gemm, nm=nm, compare_dense=False, trace=True)
    lines = ["cycle,busy_pes"] + [f"{i},{v}" for i, v in enumerate(report.trace)]
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path} ({len(report.trace)} cycles)")


def _sweep(args, cfg, layers, nm) -> int:
    from simulators.sweep import expand_sweep, parse_sweep_args, run_sweep

    points = expand_sweep(parse_sweep_args(args.sweep), cfg, nm=nm)
    out = args.out or Path("runs") / time.strftime("simulate-%Y%m%d-%H%M%S")
    start = time.perf_counter()
    title = f"{args.workload} on {cfg.name}"
    rows = run_sweep(points, layers, out, scheduler=args.scheduler, workers=args.workers,
                     base=cfg, title=title)
    _print_head(out / "sweep.md", 2 + MAX_TABLE_ROWS)
    if (out / "pareto.md").is_file():
        print()
        _print_head(out / "pareto.md", 6 + MAX_TABLE_ROWS)
    print(f"{len(rows)} configs in {time.perf_counter() - start:.1f} s; results in {out}")
    return 0


def _print_head(path: Path, lines: int) -> None:
    table = path.read_text().splitlines()
    print("\n".join(table[:lines]))
    if len(table) > lines:
        print(f"... {len(table) - lines} more rows in {path}")


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def main(argv: list[str] | None = None) -> int:
    """Standalone entry: ``python -m simulators.cli simulate --hw ... --workload ...``."""
    parser = argparse.ArgumentParser(prog="simulators")
    add_simulate_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"error: {exc}")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
