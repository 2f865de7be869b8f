"""Re-measure suspect rows of a run before a regression fails the build.

A whole run can land in a slow mode on a shared machine. ``remeasure(run_dir, keys)``
runs just those (instance, system) rows again, beside their dense baseline, with the
run's own suite (``run.json``), into ``RUN/remeasure-<k>/``, and returns their frame;
``confirm`` keeps a speed regression only while the pooled evidence of every measurement
of the row still shows one.
Main entries: ``remeasure(run_dir, keys) -> DataFrame | None`` and ``confirm``.
"""

from __future__ import annotations

import glob
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from suite import rundir, uncertainty
from suite.compare import ALPHA, Change, judge_pooled


def remeasure(run_dir: Path, keys: list[tuple[str, str]],
              progress: bool = True) -> pd.DataFrame | None:
    """The rows ``keys`` measured again (None when ``run_dir`` has no ``run.json``)."""
    from suite.config import parse_suite
    from suite.plan import Plan, make_plan
    from suite.report import load_run
    from suite.runner import run_plan

    manifest = rundir.read_manifest(run_dir)
    if manifest is None or not keys:
        return None
    config = parse_suite(manifest.suite["yaml"], manifest.suite["source"])
    systems = sorted({glob.escape(system) for _, system in keys})
    plan = make_plan(config, None, systems)
    wanted = {instance for instance, _ in keys}
    plan = Plan([i for i in plan.instances if i.instance_id in wanted], plan.devices,
                plan.systems, plan.settings)
    out = _fresh_dir(run_dir)
    if progress:
        print(f"run-suite compare: re-measuring {len(keys)} suspect row(s) into {out}",
              file=sys.stderr)
    run_plan(plan, config, out, prices=_prices(manifest), isolation=manifest.isolation)
    return load_run(out)


def _prices(manifest: rundir.RunManifest) -> dict[str, float] | None:
    """The run's own price overrides (the file's text is kept in ``run.json``)."""
    import yaml

    if not manifest.prices:
        return None
    return {str(k): float(v) for k, v in yaml.safe_load(manifest.prices["content"]).items()}


def _fresh_dir(run_dir: Path) -> Path:
    attempt = 1
    while (run_dir / f"remeasure-{attempt}").exists():
        attempt += 1
    return run_dir / f"remeasure-{attempt}"


def confirm(change: Change, base: pd.Series, measured: list[pd.Series],
            alpha: float = ALPHA) -> bool:
    """Is the speed regression still one over every measurement of the row so far?

    ``measured``: the new run's row and each re-measure's. Their evidence is pooled: the
    change is the median of their speedups against the base's, and the per-round speedups
    of all of them are tested together against the base's (Mann-Whitney), so a run that
    landed in a slow mode is outvoted, and a real slowdown only gains evidence.
    """
    rows = [r for r in measured if r is not None and r.status == "ok" and r.speedup]
    change.remeasured = [float(r.speedup) for r in rows[1:]]
    if len(rows) < 2:
        return True  # nothing new to go on: the first measurement stands
    pooled = float(np.median([r.speedup for r in rows]))
    rounds = [x for r in rows for x in uncertainty.round_ratios(r.baseline_samples_s,
                                                                 r.samples_s)]
    trial = Change(change.family, change.instance_id, change.instance, change.system,
                   change.metric, change.kind, change.base, pooled,
                   pooled / float(base.speedup) - 1, change.threshold)
    judge_pooled(trial, base, rounds, alpha)
    change.new, change.change, change.p_value = trial.new, trial.change, trial.p_value
    return trial.verdict == "regression"
