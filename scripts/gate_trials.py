"""Trials of the CI gate: how often ``run-suite compare`` cries wolf, and how often it catches.

    python3 scripts/gate_trials.py --tries 20 --out runs/trials-aa          # A/A
    python3 scripts/gate_trials.py --tries 20 --out runs/trials-slow \\
        --degrade spmm/nm-numba=slower:0.25                                # 25 % slower
    python3 scripts/gate_trials.py --tries 3 --out runs/trials-acc \\
        --degrade spmm/nm-numba=noise:1e-6                                 # less accurate
    python3 scripts/gate_trials.py --tries 1 --out runs/trials-load --load 2  # cores loaded

One base run of the suite (``--suite``, default ``ci``), then ``--tries`` new runs, each
compared with the base (``run-suite compare BASE NEW``, its exit code kept). ``--degrade``
makes the new runs use ``tests/degrade_plugin.py``; ``--load N`` runs N busy processes
beside each new run. Writes ``OUT/trials.json`` and prints one line per try and a summary.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path


def run_suite(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "suite.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})})


def _spin(seconds: float) -> None:
    end = time.time() + seconds
    while time.time() < end:
        pass


def one_try(out: Path, base: Path, k: int, degrade: str | None, load: int,
            suite: str) -> dict:
    new = out / f"try-{k:02d}"
    env = ({"SPARSECAP_PLUGINS": "tests.degrade_plugin", "SPARSECAP_DEGRADE": degrade}
           if degrade else {})
    hogs = [mp.Process(target=_spin, args=(3600,), daemon=True) for _ in range(load)]
    for hog in hogs:
        hog.start()
    started = time.time()
    try:
        ran = run_suite(["--suite", suite, "--out", str(new), "--no-progress"], env)
    finally:
        for hog in hogs:
            hog.kill()
    gate = run_suite(["compare", str(base), str(new), "--markdown", str(new / "compare.md")],
                     env)
    noise = json.loads((new / "env.json").read_text()).get("noise", {})
    share = noise.get("other_cpu_median")
    return {"try": k, "run_rc": ran.returncode, "compare_rc": gate.returncode,
            "verdict": noise.get("verdict"), "other_cpu_median": share and round(share, 2),
            "remeasured": sorted(p.name for p in new.glob("remeasure-*")),
            "headline": next((line for line in gate.stdout.splitlines()
                              if line.startswith("## ")), gate.stderr.strip()[-200:]),
            "seconds": round(time.time() - started, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--suite", default="ci")
    parser.add_argument("--degrade", help="FAMILY/KERNEL=slower:F or =noise:R")
    parser.add_argument("--load", type=int, default=0, help="busy processes beside NEW")
    parser.add_argument("--base", type=Path, help="an existing base run (default: run one)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    base = args.base or args.out / "base"
    if args.base is None and not (base / "records.jsonl").exists():
        ran = run_suite(["--suite", args.suite, "--out", str(base), "--no-progress"])
        if ran.returncode != 0:
            print(ran.stderr, file=sys.stderr)
            return ran.returncode
    results = []
    for k in range(1, args.tries + 1):
        results.append(one_try(args.out, base, k, args.degrade, args.load, args.suite))
        r = results[-1]
        print(f"try {k:2d}: compare exit {r['compare_rc']} ({r['headline']}); run "
              f"{r['verdict']}, others {r['other_cpu_median']}; {r['seconds']} s", flush=True)
    flagged = sum(r["compare_rc"] == 1 for r in results)
    summary = {"tries": len(results), "regression_reported": flagged,
               "degrade": args.degrade, "load": args.load, "results": results}
    (args.out / "trials.json").write_text(json.dumps(summary, indent=2))
    print(f"{flagged} of {len(results)} tries reported a regression "
          f"(degrade={args.degrade}, load={args.load})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
