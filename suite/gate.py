"""``run-suite compare``: compare, re-measure the suspects, print the markdown, exit 0 or 1.

Main entry: ``run_gate(args) -> exit code`` (arguments as ``suite.gate_cli`` declares).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from suite import baseline
from suite.compare import ALPHA, Comparison, compare_frames
from suite.compare_report import comparison_markdown
from suite.errors import UserError
from suite.remeasure import confirm, remeasure
from suite.report import load_run, run_env
from suite.thresholds import Thresholds


def run_gate(args: argparse.Namespace) -> int:
    new_dir = args.new
    base_dir = (baseline.find(new_dir, args.baselines or baseline.ROOT)
                if args.base == "auto" else Path(args.base))
    base, new = load_run(base_dir), load_run(new_dir)
    thresholds = Thresholds.parse(args.threshold, set(base.family) | set(new.family),
                                  _metric_names(base) | _metric_names(new))
    alpha = ALPHA if args.alpha is None else args.alpha
    if not 0 < alpha < 1:
        raise UserError(f"--alpha: got {alpha}; allowed: 0 < P < 1")
    result = compare_frames(base, new, thresholds, alpha)
    attempts = _confirm(result, base, new, new_dir, max(args.remeasure, 0), alpha)
    rules = (f"Rules: a speed regression is a same-run speedup (over dense) that fell by more "
             f"than its threshold, {thresholds.describe()}, significantly (Mann-Whitney "
             f"p < {alpha:g} on the per-round speedups, or disjoint 95 % intervals), and "
             f"still so with its re-measures pooled ({attempts} done); an accuracy "
             "regression is an error up or a recall down beyond its threshold; a row ok "
             "before that fails now is one too.")
    text = comparison_markdown(result, base_dir, new_dir, run_env(base_dir), run_env(new_dir),
                               rules)
    print(text)
    if args.markdown:
        try:
            args.markdown.write_text(text + "\n")
        except OSError as exc:
            raise UserError(f"--markdown: cannot write {args.markdown}: "
                            f"{exc.strerror or exc}") from None
    return 1 if result.regressions else 0


def _confirm(result: Comparison, base: pd.DataFrame, new: pd.DataFrame, new_dir: Path,
             attempts: int, alpha: float) -> int:
    """Re-measure the speed regressions; those a re-measure clears are no regression."""
    base_rows = {(r.instance_id, r.system): r for _, r in base.iterrows()}
    new_rows = {(r.instance_id, r.system): r for _, r in new.iterrows()}
    measured = {c.key: [new_rows[c.key]] for c in result.regressions if c.kind == "speedup"}
    done = 0
    for _ in range(attempts):
        suspects = [c for c in result.regressions if c.kind == "speedup"]
        if not suspects:
            break
        again = remeasure(new_dir, sorted({c.key for c in suspects}))
        if again is None:
            print("run-suite compare: note: NEW has no run.json; suspects not re-measured",
                  file=sys.stderr)
            break
        done += 1
        rows = {(r.instance_id, r.system): r for _, r in again.iterrows()}
        for change in suspects:
            measured[change.key].append(rows.get(change.key))
            if not confirm(change, base_rows[change.key], measured[change.key], alpha):
                change.verdict = "same"
                change.note = (change.note + "; " if change.note else "") + \
                    "cleared: with the re-measures it is within noise or threshold"
    return done


def _metric_names(frame: pd.DataFrame) -> set[str]:
    return {name for acc in frame.accuracy if isinstance(acc, dict) for name in acc}
