"""The ``run-suite`` command: run a benchmark suite, rebuild reports, simulate hardware.

    run-suite                               # the quick suite on this machine's CPU
    run-suite --suite standard --out runs/std
    run-suite --only spmm --systems 'cpu/*'
    run-suite --out runs/std --resume       # finish a run that was killed
    run-suite --list                        # families, kernels, devices and why not
    run-suite report runs/std               # tables and plots from records alone
    run-suite simulate --hw sparse-tc-32x32 --workload bert-base --sweep nm=2:4,1:4,dense

Errors in the user's input print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from suite import threads
from suite.errors import UserError

COMMANDS = ("report", "simulate")


def build_run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run-suite", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a SparseCAP benchmark suite: every workload instance on every system "
                    "(device x kernel), each result checked against its float64 reference, "
                    "timed interleaved with the dense baseline of the same device.",
        epilog="examples:\n" + __doc__.split("\n\n", 1)[1].split("\n\nErrors")[0]
        + "\n\nother commands: 'run-suite report --help', 'run-suite simulate --help'")
    parser.add_argument("--suite", default="quick", metavar="FILE|NAME",
                        help="a suite YAML file or a packaged suite (quick [default], standard)")
    parser.add_argument("--only", metavar="FAMILY[,FAMILY]",
                        help="run only these workload families (e.g. spmm or spmm,moe)")
    parser.add_argument("--systems", metavar="PATTERN[,PATTERN]",
                        help="run only systems whose id matches a glob, e.g. 'cpu/*' or "
                             "'cpu/nm-numba,cpu/scipy-csr' (the dense baseline is always kept)")
    parser.add_argument("--out", metavar="DIR", type=Path,
                        help="run directory (default: runs/<suite>-<date>-<time>)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out (default: the newest run of this "
                             "suite), skipping rows already recorded")
    parser.add_argument("--prices", metavar="FILE",
                        help="YAML mapping device name -> US$ per hour, overriding prices.yaml")
    parser.add_argument("--list", action="store_true",
                        help="list families, kernels, devices and suites, with why any "
                             "cannot run here, then exit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    threads.apply()  # before numpy loads its BLAS, so idle pools do not skew timings
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] == "report":
            return _report_command(args[1:])
        if args and args[0] == "simulate":
            from simulators.cli import add_simulate_parser, run_simulate
            parser = argparse.ArgumentParser(prog="run-suite")
            sub = parser.add_subparsers(dest="command", required=True)
            add_simulate_parser(sub)
            return run_simulate(parser.parse_args(args))
        return _run_command(build_run_parser().parse_args(args))
    except UserError as exc:
        print(f"run-suite: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("run-suite: interrupted; finished rows are kept, continue with --resume",
              file=sys.stderr)
        return 130


def _run_command(args: argparse.Namespace) -> int:
    from suite import console
    from suite.config import load_suite
    from suite.plan import make_plan
    from suite.prices import load_price_file
    from suite.report import write_reports
    from suite.runner import run_plan

    if args.list:
        from suite.listing import print_listing
        print_listing()
        return 0
    config = load_suite(args.suite)
    only = set(_split(args.only)) if args.only else None
    plan = make_plan(config, only, _split(args.systems) if args.systems else None)
    out_dir = _out_dir(args, config.name)
    prices = load_price_file(args.prices) if args.prices else None
    console.print_plan(plan, config, out_dir)
    started = time.perf_counter()
    with console.progress(plan.row_count, enabled=not args.no_progress) as (advance, status):
        summary = run_plan(plan, config, out_dir, resume=args.resume, prices=prices,
                           progress=advance, status=status)
    paths = write_reports(out_dir)
    console.print_summary(out_dir, summary, paths, time.perf_counter() - started)
    return 0


def _report_command(argv: list[str]) -> int:
    from suite import console
    from suite.report import write_reports

    parser = argparse.ArgumentParser(
        prog="run-suite report",
        description="Rebuild the terminal table, leaderboard.md, speedup.md, cap.md, "
                    "results.csv and the PNG plots of a run directory from its records.jsonl.")
    parser.add_argument("run_dir", type=Path, metavar="DIR", help="a run directory")
    args = parser.parse_args(argv)
    paths = write_reports(args.run_dir)
    console.print_tables(args.run_dir)
    console.print_paths(paths)
    return 0


def _out_dir(args: argparse.Namespace, suite_name: str) -> Path:
    if args.out:
        return args.out
    runs = Path("runs")
    if args.resume:
        previous = sorted(runs.glob(f"{suite_name}-*"))
        if not previous:
            raise UserError(f"--resume: no earlier run of suite {suite_name!r} under runs/; "
                            "name one with --out")
        return previous[-1]
    return runs / f"{suite_name}-{time.strftime('%Y%m%d-%H%M%S')}"


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


if __name__ == "__main__":
    sys.exit(main())
