"""Subcommands for sharing and gating results: ``compare``, ``baseline``, ``history``, ``publish``.

    run-suite compare BASE NEW [--threshold 10%] [--threshold spmm=15%] [--markdown FILE]
    run-suite compare auto runs/ci            # BASE: results/baselines/<class>/<suite>/
    run-suite baseline save runs/ci           # copy a run to results/baselines/<class>/<suite>/
    run-suite baseline list | class DIR
    run-suite history runs/ci-* [--out history/]
    run-suite publish runs/a runs/b --out site/

``compare`` exits 1 on a regression, 0 otherwise, 2 on bad input (as every ``UserError``).
Each registers with ``suite.registry.register_command``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from suite import registry
from suite.errors import UserError


def _compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("base", metavar="BASE", help="the reference run directory, or "
                        "'auto': the committed baseline of NEW's machine class and suite")
    parser.add_argument("new", type=Path, metavar="NEW", help="the run to check")
    parser.add_argument("--threshold", action="append", metavar="[KEY=]PERCENT",
                        help="smallest change that counts (default 10%%); KEY: speedup, "
                             "accuracy, a metric, a family or FAMILY.METRIC; repeatable")
    parser.add_argument("--alpha", type=float, default=None, metavar="P",
                        help="Mann-Whitney significance level (default 0.01)")
    parser.add_argument("--remeasure", type=int, default=2, metavar="N",
                        help="re-measure suspect speed regressions up to N times before "
                             "failing (default 2; 0: never); needs NEW's run.json")
    parser.add_argument("--markdown", type=Path, metavar="FILE",
                        help="also write the report here (a pull-request comment)")
    parser.add_argument("--baselines", type=Path, metavar="DIR",
                        help="where 'auto' looks (default results/baselines)")


def _run_compare(args: argparse.Namespace) -> int:
    from suite.gate import run_gate

    return run_gate(args)


def _baseline_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("save", "list", "class"),
                        help="save RUN: copy it as the baseline of its machine class and "
                             "suite; list: the saved ones; class RUN: its machine class")
    parser.add_argument("run_dir", type=Path, nargs="?", metavar="RUN")
    parser.add_argument("--root", type=Path, metavar="DIR",
                        help="baselines folder (default results/baselines)")
    parser.add_argument("--name", metavar="CLASS", help="save under this class instead")
    parser.add_argument("--force", action="store_true",
                        help="save even a run whose noise verdict is noisy")


def _run_baseline(args: argparse.Namespace) -> int:
    from suite import baseline

    root = args.root or baseline.ROOT
    if args.action == "list":
        for row in baseline.listing(root):
            print(f"{row['class']}/{row['suite']}: {row['rows']} rows, commit "
                  f"{row['commit']}, {row['started']}")
        return 0
    if args.run_dir is None:
        raise UserError(f"baseline {args.action}: give the run directory (RUN)")
    if args.action == "class":
        print(baseline.machine_class(baseline.read_env(args.run_dir)))
        return 0
    target = baseline.save(args.run_dir, root, args.name, args.force)
    print(f"saved {args.run_dir} as the baseline {target}; commit it with the change")
    return 0


def _history_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dirs", type=Path, nargs="+", metavar="DIR",
                        help="run directories, oldest first or in any order (sorted by start)")
    parser.add_argument("--out", type=Path, default=Path("history"), metavar="DIR",
                        help="where history.md and history.png go (default history/)")
    parser.add_argument("--threshold", default="10%", metavar="PERCENT",
                        help="smallest step that counts (default 10%%)")


def _run_history(args: argparse.Namespace) -> int:
    from suite.history import write_history
    from suite.thresholds import Thresholds

    threshold = Thresholds.parse([args.threshold], set(), set()).default
    for path in write_history(args.run_dirs, args.out, threshold):
        print(f"wrote {path}")
    return 0


def _publish_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dirs", type=Path, nargs="+", metavar="DIR")
    parser.add_argument("--out", type=Path, default=Path("site"), metavar="DIR",
                        help="the site folder (default site/); open DIR/index.html")


def _run_publish(args: argparse.Namespace) -> int:
    from suite.publish import publish

    index = publish(args.run_dirs, args.out)
    print(f"wrote {index} (opens from the file system, works offline)")
    return 0


registry.register_command(
    "compare", _compare_arguments, _run_compare,
    help="gate a run against a baseline: exit 1 on a speed or accuracy regression",
    description="Compare two runs row by row (instance, system) by same-run speedup over "
                "dense and by accuracy. A speed regression must be significant (Mann-Whitney "
                "on per-round speedups, or disjoint intervals) and beyond --threshold, and "
                "survive a re-measure. Exit 1 on a regression, 0 otherwise, 2 on bad input.")
registry.register_command(
    "baseline", _baseline_arguments, _run_baseline,
    help="save or list the committed CI baselines (results/baselines/<class>/<suite>/)")
registry.register_command(
    "history", _history_arguments, _run_history,
    help="trend table and plot over many runs, with step changes located")
registry.register_command(
    "publish", _publish_arguments, _run_publish,
    help="a static leaderboard site (offline, no server) from run directories")
