"""Regression gating: two runs, row by row, by same-run speedups and by accuracy.

Rows are matched by (instance, system). A row's speed is its speedup over the dense
baseline measured in the *same* run, so a baseline run on another machine of the same
class is still a fair reference. A speed change is a regression only when it is both
statistically significant (Mann-Whitney U on the per-round speedups, the raw paired
samples, ``p < alpha``; or, with too few rounds, disjoint 95 % intervals) and larger than
its threshold (``suite.thresholds``). Accuracy regressions (an error up, a recall down,
by the direction and range each record states) need only the threshold: the data is
seeded, so accuracy does not jitter. An ok row that now fails is a regression too.
Main entry: ``compare_frames(base, new, thresholds, alpha) -> Comparison``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from suite import uncertainty
from suite.frames import metric_info
from suite.thresholds import Thresholds

ALPHA = 0.01
MIN_ROUNDS = 5           # fewer per-round ratios than this: disjoint intervals decide
ACCURACY_FLOOR = 1e-12   # an accuracy change smaller than this is no change


@dataclass
class Change:
    """One metric of one matched row: ``change`` > 0 better, < 0 worse (a fraction)."""

    family: str
    instance_id: str
    instance: str
    system: str
    metric: str
    kind: str                     # "speedup" | "accuracy" | "status"
    base: float | None
    new: float | None
    change: float
    threshold: float
    p_value: float | None = None
    disjoint: bool = False
    significant: bool = True
    verdict: str = "same"         # "regression" | "improvement" | "same"
    note: str = ""
    remeasured: list[float] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return (self.instance_id, self.system)


@dataclass
class Comparison:
    changes: list[Change]
    only_base: list[tuple[str, str]]
    only_new: list[tuple[str, str]]
    not_compared: list[tuple[str, str, str]]   # instance, system, why

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.verdict == "regression"]

    @property
    def improvements(self) -> list[Change]:
        return [c for c in self.changes if c.verdict == "improvement"]


def compare_frames(base: pd.DataFrame, new: pd.DataFrame, thresholds: Thresholds,
                   alpha: float = ALPHA) -> Comparison:
    base_rows = {(r.instance_id, r.system): r for _, r in base.iterrows()}
    new_rows = {(r.instance_id, r.system): r for _, r in new.iterrows()}
    changes, not_compared = [], []
    for key in sorted(set(base_rows) & set(new_rows)):
        b, n = base_rows[key], new_rows[key]
        if b.status != "ok":
            continue
        if n.status != "ok":
            if n.status == "failed":
                changes.append(_status_change(b, n))
            else:
                not_compared.append((b.instance_label, b.system, f"new run: {n.reason}"))
            continue
        if not b.is_baseline:
            speed = speed_change(b, n, thresholds, alpha)
            if speed is not None:
                changes.append(speed)
        changes += accuracy_changes(b, n, thresholds, base)
    only_base = sorted(k for k in set(base_rows) - set(new_rows)
                       if base_rows[k].status == "ok")
    return Comparison(changes, only_base, sorted(set(new_rows) - set(base_rows)),
                      not_compared)


def speed_change(b: pd.Series, n: pd.Series, thresholds: Thresholds,
                 alpha: float = ALPHA) -> Change | None:
    """The speedup's change, judged (None where either side has no speedup)."""
    if not _finite(b.speedup) or not _finite(n.speedup) or b.speedup <= 0:
        return None
    threshold = thresholds.of(b.family, "speedup", "speedup")
    change = Change(b.family, b.instance_id, b.instance_label, b.system, "speedup", "speedup",
                    float(b.speedup), float(n.speedup), float(n.speedup / b.speedup - 1),
                    threshold)
    judge_speed(change, b, n, alpha)
    return change


def judge_speed(change: Change, b: pd.Series, n: pd.Series, alpha: float = ALPHA) -> None:
    """Significance (Mann-Whitney on per-round speedups, else disjoint intervals) and the
    threshold together make a regression or an improvement."""
    rounds_b = uncertainty.round_ratios(b.baseline_samples_s, b.samples_s)
    rounds_n = uncertainty.round_ratios(n.baseline_samples_s, n.samples_s)
    change.disjoint = uncertainty.disjoint(_pair(b.speedup_ci), _pair(n.speedup_ci))
    if min(len(rounds_b), len(rounds_n)) >= MIN_ROUNDS:
        change.p_value = uncertainty.mann_whitney_p(rounds_b, rounds_n)
        change.significant = change.p_value < alpha
    else:
        change.significant = change.disjoint
    beyond = abs(change.change) > change.threshold
    change.verdict = ("regression" if change.change < 0 else "improvement") \
        if change.significant and beyond else "same"
    _inconclusive_note(change, n)


def judge_pooled(change: Change, b: pd.Series, rounds_n: list[float],
                 alpha: float = ALPHA) -> None:
    """As ``judge_speed``, for a change whose new side pools several measurements."""
    rounds_b = uncertainty.round_ratios(b.baseline_samples_s, b.samples_s)
    change.p_value = uncertainty.mann_whitney_p(rounds_b, rounds_n)
    change.significant = change.p_value < alpha
    beyond = abs(change.change) > change.threshold
    change.verdict = ("regression" if change.change < 0 else "improvement") \
        if change.significant and beyond else "same"


def _inconclusive_note(change: Change, n: pd.Series) -> None:
    if n.get("verdict") == "INVALID":
        causes = dict.fromkeys(str(r).split(":")[0] for r in n.verdict_reasons or [])
        change.note = "new row INVALID (" + ", ".join(causes) + ")"


def accuracy_changes(b: pd.Series, n: pd.Series, thresholds: Thresholds,
                     frame: pd.DataFrame) -> list[Change]:
    """Every accuracy metric both rows hold, judged by the direction the records state."""
    out = []
    for name, value in (b.accuracy or {}).items():
        other = (n.accuracy or {}).get(name)
        if not (_finite(value) and _finite(other)):
            continue
        metric = metric_info(frame[frame.family == b.family], name)
        if not metric.known:
            continue
        threshold = thresholds.of(b.family, name, "accuracy")
        change = _accuracy_change(float(value), float(other), metric)
        verdict = "same"
        if abs(other - value) > ACCURACY_FLOOR and abs(change) > threshold:
            verdict = "regression" if change < 0 else "improvement"
        out.append(Change(b.family, b.instance_id, b.instance_label, b.system, name,
                          "accuracy", float(value), float(other), change, threshold,
                          verdict=verdict, note=metric.label))
    return out


def _accuracy_change(base: float, new: float, metric) -> float:
    """Relative change of the distance to the ideal value; > 0 better, < 0 worse.

    Lower-is-better: the loss is ``value - low`` (an error of 2e-7 -> 3e-7 is -50 %).
    Higher-is-better with a top (recall@k in 0-1): the loss is ``high - value``. Without
    a top: the relative change of the value itself.
    """
    if metric.direction == "lower":
        ideal = metric.low if metric.low is not None else 0.0
        lost_base, lost_new = base - ideal, new - ideal
    elif metric.high is not None:
        lost_base, lost_new = metric.high - base, metric.high - new
    else:
        return (new - base) / max(abs(base), ACCURACY_FLOOR)
    return -(lost_new - lost_base) / max(abs(lost_base), ACCURACY_FLOOR)


def _status_change(b: pd.Series, n: pd.Series) -> Change:
    return Change(b.family, b.instance_id, b.instance_label, b.system, "status", "status",
                  None, None, -1.0, 0.0, verdict="regression",
                  note=f"ok in the base run, failed now: {n.reason}")


def _pair(value) -> list[float] | None:
    return list(value) if isinstance(value, (list, tuple)) and len(value) == 2 else None


def _finite(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))
