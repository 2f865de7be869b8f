"""Golden reports from SCALE-Sim v3 for the dense agreement tests, and a speed comparison.

Regenerate (needs a python with ``scalesim==3.0.0`` and ``numpy==2.2.6``)::

    python3 -m venv .scalesim-venv
    .scalesim-venv/bin/pip install scalesim==3.0.0 numpy==2.2.6
    .scalesim-venv/bin/python -m simulators.golden --out tests/golden/scalesim_golden.json

``--case ID`` prints one case's SCALE-Sim numbers as JSON (the live tests call this through
``SCALESIM_PYTHON``); ``--sparse`` prints SCALE-Sim's cycles of the N:M cases (its sparse
mode); ``--bench [CASE|all]`` times SCALE-Sim and this simulator on the same layer.
Runs SCALE-Sim in CALC bandwidth mode with traces off (``save_disk_space=True``). Nothing
heavy is imported at module level: ``suite.registry`` imports every ``simulators`` module.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

GOLDEN_PATH = Path(__file__).resolve().parent.parent / "tests" / "golden" / "scalesim_golden.json"
GEMM_HEADER = "Layer, M, N, K,"
CONV_HEADER = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
               "Num Filter, Strides,")

# (id, dataflow, rows, cols, kind, layer parameters): GEMM (M, N, K) as SCALE-Sim reads it;
# conv (ifmap h, ifmap w, filter h, filter w, channels, filters, stride).
CASES = [
    ("gemm-os-8x8", "os", 8, 8, "gemm", (64, 48, 40)),
    ("gemm-ws-8x8", "ws", 8, 8, "gemm", (64, 48, 40)),
    ("gemm-is-8x8", "is", 8, 8, "gemm", (64, 48, 40)),
    ("gemm-os-16x16-ragged", "os", 16, 16, "gemm", (100, 70, 33)),
    ("gemm-ws-16x16-ragged", "ws", 16, 16, "gemm", (100, 70, 33)),
    ("gemm-is-16x16-ragged", "is", 16, 16, "gemm", (100, 70, 33)),
    ("gemm-ws-8x16", "ws", 8, 16, "gemm", (50, 40, 30)),
    ("gemm-os-32x32", "os", 32, 32, "gemm", (128, 96, 64)),
    ("gemm-ws-32x32", "ws", 32, 32, "gemm", (128, 256, 96)),
    ("gemm-is-32x32", "is", 32, 32, "gemm", (96, 128, 64)),
    ("gemm-os-128x128", "os", 128, 128, "gemm", (256, 200, 64)),
    ("gemm-ws-128x128", "ws", 128, 128, "gemm", (128, 256, 256)),
    ("gemm-is-128x128", "is", 128, 128, "gemm", (200, 128, 64)),
    ("conv-os-16x16", "os", 16, 16, "conv", (14, 14, 3, 3, 8, 16, 1)),
    ("conv-ws-32x32-stride2", "ws", 32, 32, "conv", (16, 16, 3, 3, 16, 32, 2)),
    ("conv-is-8x8", "is", 8, 8, "conv", (10, 10, 5, 5, 3, 8, 1)),
    ("conv-ws-128x128", "ws", 128, 128, "conv", (28, 28, 3, 3, 32, 64, 1)),
]
BENCH_CASES = [("bench-ws-32x32", "ws", 32, 32, "gemm", (256, 256, 256)),
               ("bench-bert-attn-out-ws-32x32", "ws", 32, 32, "gemm", (128, 768, 768)),
               ("bench-ws-32x32-32", "ws", 32, 32, "gemm", (32, 32, 32)),
               ("bench-ws-32x32-64", "ws", 32, 32, "gemm", (64, 64, 64)),
               ("bench-ws-32x32-128", "ws", 32, 32, "gemm", (128, 128, 128)),
               ("bench-ws-32x32-512", "ws", 32, 32, "gemm", (512, 512, 512))]

# N:M cases (SCALE-Sim's sparse mode, its first-N-of-every-M pattern): equal to ours with
# ``metadata_decode_cycles: 0`` (SCALE-Sim models no index-decode stage).
SPARSE_CASES = [(case_id, dataflow, rows, cols, "gemm", params, nm)
                for case_id, dataflow, rows, cols, params in (
                    ("sparse-ws-8x8", "ws", 8, 8, (64, 48, 40)),
                    ("sparse-os-8x8", "os", 8, 8, (64, 48, 40)),
                    ("sparse-is-8x8", "is", 8, 8, (64, 48, 40)),
                    ("sparse-ws-16x16-ragged", "ws", 16, 16, (100, 70, 33)),
                    ("sparse-os-16x16-ragged", "os", 16, 16, (100, 70, 33)))
                for nm in ("2:4", "1:4", "2:8")]

CONFIG = """[general]
run_name = {name}

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: 256
FilterSramSzkB: 256
OfmapSramSzkB: 128
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth: 10
Dataflow: {dataflow}
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport: false
SparseRep: ellpack_block
OptimizedMapping: false
BlockSize: 8
RandomNumberGeneratorSeed: 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""


def case_by_id(case_id: str) -> tuple:
    for case in [*CASES, *BENCH_CASES]:
        if case[0] == case_id:
            return case
    raise SystemExit(f"unknown case {case_id!r}; allowed: {', '.join(c[0] for c in CASES)}")


def _write_inputs(case: tuple, folder: Path) -> tuple[Path, Path, Path]:
    case_id, dataflow, rows, cols, kind, params = case
    config = folder / "scale.cfg"
    config.write_text(CONFIG.format(name=case_id, rows=rows, cols=cols, dataflow=dataflow))
    topology = folder / "topology.csv"
    header = GEMM_HEADER if kind == "gemm" else CONV_HEADER
    # The trailing comma matters: without it SCALE-Sim drops the row's last column.
    topology.write_text(f"{header}\n{case_id}, {', '.join(map(str, params))},\n")
    layout = folder / "layout.csv"  # required by SCALE-Sim 3 even with custom layouts off
    layout.write_text("Layer," + ",".join(["x"] * 20) + ",\n"
                      + case_id + "," + ",".join(["1"] * 20) + ",\n")
    return config, topology, layout


def run_scalesim(case: tuple) -> dict:
    """Run one case through SCALE-Sim; return its report numbers and wall time."""
    from scalesim.scale_sim import scalesim

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config, topology, layout = _write_inputs(case, folder)
        sim = scalesim(save_disk_space=True, verbose=False, config=str(config),
                       topology=str(topology), layout=str(layout),
                       input_type_gemm=case[4] == "gemm")
        start = time.perf_counter()
        sim.run_scale(top_path=str(folder / "out"))
        seconds = time.perf_counter() - start
        report_dir = folder / "out" / case[0]
        compute = _rows(report_dir / "COMPUTE_REPORT.csv")
        detail = _rows(report_dir / "DETAILED_ACCESS_REPORT.csv")
    return {"id": case[0], "dataflow": case[1], "rows": case[2], "cols": case[3],
            "kind": case[4], "params": list(case[5]), "scalesim_seconds": seconds,
            "compute_report": compute, "detailed_access_report": detail}


def run_scalesim_sparse(case: tuple) -> dict:
    """One N:M case through SCALE-Sim's sparse mode; its "Total Cycles"."""
    from scalesim.scale_sim import scalesim

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config, topology, layout = _write_inputs(case[:6], folder)
        config.write_text(config.read_text().replace("SparsitySupport: false",
                                                     "SparsitySupport: true"))
        header, row = topology.read_text().splitlines()
        topology.write_text(f"{header} Sparsity,\n{row} {case[6]},\n")
        sim = scalesim(save_disk_space=True, verbose=False, config=str(config),
                       topology=str(topology), layout=str(layout), input_type_gemm=True)
        sim.run_scale(top_path=str(folder / "out"))
        compute = _rows(folder / "out" / case[0] / "COMPUTE_REPORT.csv")
    return {"id": case[0], "nm": case[6], "total_cycles": int(compute["Total Cycles"])}


def _rows(path: Path) -> dict[str, float]:
    header, values = [line.split(",") for line in path.read_text().splitlines()[:2]]
    return {h.strip(): float(v) for h, v in zip(header, values, strict=True) if h.strip()}


def bench(case: tuple, repeats: int = 20) -> dict:
    """Wall time of SCALE-Sim and of this simulator on one case, in the same process."""
    from simulators.hw_config import HardwareConfig
    from simulators.systolic import SystolicArray, simulate_gemm

    scalesim_result = run_scalesim(case)
    _, dataflow, rows, cols, _, (m, n, k) = case
    array = SystolicArray.from_config(HardwareConfig(name="bench", rows=rows, cols=cols,
                                                     dataflow=dataflow))
    start = time.perf_counter()
    for _ in range(repeats):
        report = simulate_gemm(array, m, n, k, compare_dense=False)
    ours = (time.perf_counter() - start) / repeats
    theirs = scalesim_result["scalesim_seconds"]
    return {"case": case[0], "scalesim_s": theirs, "ours_s": ours,
            "speedup": theirs / ours, "scalesim_cycles": scalesim_result["compute_report"],
            "our_compute_cycles": report.compute_cycles}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.golden", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="write every case to this JSON file")
    parser.add_argument("--case", help="print one case's SCALE-Sim numbers as JSON")
    parser.add_argument("--sparse", action="store_true",
                        help="print SCALE-Sim's cycles of every N:M case, one JSON line each")
    parser.add_argument("--bench", nargs="?", const=BENCH_CASES[0][0], metavar="CASE",
                        help="time SCALE-Sim vs this simulator on one case (default "
                             f"{BENCH_CASES[0][0]}; 'all': every bench case, one JSON "
                             "line each)")
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(run_scalesim(case_by_id(args.case))))
    elif args.sparse:
        for case in SPARSE_CASES:
            print(json.dumps(run_scalesim_sparse(case)), flush=True)
    elif args.bench == "all":
        for case in BENCH_CASES:
            print(json.dumps(bench(case)), flush=True)
    elif args.bench:
        print(json.dumps(bench(case_by_id(args.bench)), indent=1))
    else:
        out = args.out or GOLDEN_PATH
        results = [run_scalesim(case) for case in CASES]
        out.write_text(json.dumps({"scalesim": "3.0.0", "cases": results}, indent=1) + "\n")
        print(f"wrote {len(results)} cases to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
