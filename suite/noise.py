"""How noisy a run was, and which rows its noise spoils (MLPerf's VALID / INVALID).

A ``Probe`` reads, cheaply and without root: wall time, the machine's busy CPU seconds
(``/proc/stat``, steal included), the CPU seconds of this process and its children (the
worker), the load average and the CPU frequency. Between two probes, ``other_cpu`` is the
share of the machine's CPU that *other* processes used. A row is INVALID when its samples
or its baseline's spread too widely, when other processes took too much of the CPU while
it was timed, or when its roofline fraction exceeds 1 (faster than the measured ceiling:
a peak measured low, or work miscounted); ``judge(row)`` says which, from the record's
own fields, so reports re-judge old runs the same way. ``run_verdict`` gives the run's:
``quiet`` or ``noisy`` with the reasons. Main entries: ``Probe``, ``NoiseMonitor`` (what
the runner keeps for ``env.json``), ``judge``, ``run_verdict``.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SPREAD_MAX = 0.25      # IQR / median of a row's (or its baseline's) samples
OTHER_CPU_MAX = 0.25   # share of the machine other processes used while a row was timed
ROOFLINE_MAX = 1.0     # achieved / floor time above this is impossible
RUN_OTHER_CPU_MAX = 0.15
RUN_PEAK_RATIO_MAX = 1.25   # best / worst peak FLOP/s re-measured during the run
RUN_BASELINE_SPREAD_MAX = 0.10
RUN_INVALID_SHARE_MAX = 0.20
PROC = Path("/proc")


@dataclass(frozen=True)
class Probe:
    """One reading of the machine (None where this OS does not say)."""

    wall_s: float
    busy_s: float | None
    own_s: float | None
    load_1m: float | None
    cpu_mhz: float | None

    @classmethod
    def now(cls) -> Probe:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        return cls(time.monotonic(), _busy_s(), _own_tree_s(), load, _cpu_mhz())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def other_cpu(first: Probe, second: Probe, cores: int | None = None) -> float | None:
    """Share (0 to 1) of the machine's CPU other processes used between two probes."""
    cores = cores or os.cpu_count() or 1
    wall = second.wall_s - first.wall_s
    if None in (first.busy_s, second.busy_s, first.own_s, second.own_s) or wall <= 0.05:
        return None
    others = (second.busy_s - first.busy_s) - (second.own_s - first.own_s)
    return min(1.0, max(0.0, others / (wall * cores)))


class NoiseMonitor:
    """The run's probes: before, around each device's measurement, after.

    ``observe(message)`` takes the executor's messages as they come (``suite.execute``):
    ``rows`` starts an interval, the first ``record`` after it ends it, and every record of
    that measurement gets the interval's ``other_cpu`` and load in ``noise`` and is judged
    again. ``finish(records, peaks)`` is the ``noise`` section of ``env.json``.
    """

    def __init__(self):
        self.before = Probe.now()
        self.intervals: list[dict[str, Any]] = []
        self._mark: Probe | None = None
        self._current: dict[str, Any] | None = None
        self.after: Probe | None = None

    def observe(self, message: tuple) -> None:
        if message[0] == "rows":
            self.mark()
            self._current = None
        elif message[0] == "record":
            if self._current is None:
                self._current = self.interval()
            record = message[1]
            if record.status == "ok" and record.samples_s and not record.noise.get("modelled"):
                record.noise.update({k: self._current[k] for k in ("other_cpu", "load_1m")})
                record.verdict, record.verdict_reasons = judge(record)

    def mark(self) -> None:
        """A device of a job starts measuring."""
        self._mark = Probe.now()

    def interval(self) -> dict[str, Any]:
        """Since the last ``mark``: what a row measured then carries in ``noise``."""
        start, end = self._mark or self.before, Probe.now()
        self._mark = end
        found = {"other_cpu": other_cpu(start, end), "load_1m": end.load_1m,
                 "cpu_mhz": end.cpu_mhz, "seconds": round(end.wall_s - start.wall_s, 3)}
        self.intervals.append(found)
        return found

    def finish(self, records: list, peaks: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        """Probes before and after, the intervals' shares, and the run's verdict."""
        self.after = Probe.now()
        shares = [i["other_cpu"] for i in self.intervals if i["other_cpu"] is not None]
        found = {"before": self.before.as_dict(), "after": self.after.as_dict(),
                 "cores": os.cpu_count(), "intervals": len(self.intervals),
                 "other_cpu_median": statistics.median(shares) if shares else None,
                 "other_cpu_max": max(shares) if shares else None,
                 "other_cpu_whole_run": other_cpu(self.before, self.after)}
        spreads = [r.noise.get("spread") for r in records
                   if r.is_baseline and r.status == "ok" and r.noise.get("spread") is not None]
        found.update(run_verdict(found, peaks, spreads, [r.verdict for r in records]))
        return found


def judge(row: Any) -> tuple[str, list[str]]:
    """``("VALID", [])`` or ``("INVALID", reasons)`` for a timed ok row; ``("", [])`` else.

    ``row`` is a ``ResultRecord`` or a frame row: it needs ``status``, ``samples_s``,
    ``noise`` (``spread``, ``baseline_spread``, ``other_cpu``, ``modelled``) and
    ``roofline_fraction``. A simulated device's time comes from its model (``modelled``):
    only its roofline is judged.
    """
    if _get(row, "status") != "ok" or not _get(row, "samples_s"):
        return "", []
    noise = _get(row, "noise") or {}
    reasons = [] if noise.get("modelled") else _noise_reasons(noise)
    reasons += _roofline_reasons(row)
    return ("INVALID", reasons) if reasons else ("VALID", [])


def _noise_reasons(noise: dict[str, Any]) -> list[str]:
    reasons = []
    for key, whose in (("spread", "its samples"), ("baseline_spread", "its baseline's")):
        value = _number(noise.get(key))
        if value is not None and value > SPREAD_MAX:
            reasons.append(f"spread: IQR of {whose} is {value:.0%} of the median "
                           f"(> {SPREAD_MAX:.0%})")
    share = _number(noise.get("other_cpu"))
    if share is not None and share > OTHER_CPU_MAX:
        reasons.append(f"noisy: other processes used {share:.0%} of the CPU while it was "
                       f"timed (> {OTHER_CPU_MAX:.0%})")
    return reasons


def _roofline_reasons(row: Any) -> list[str]:
    roofline = _number(_get(row, "roofline_fraction"))
    if roofline is None or roofline <= ROOFLINE_MAX:
        return []
    return [f"roofline fraction {roofline:.2f} > 1: faster than the measured peaks allow "
            "(a peak measured low, data served from cache, or work miscounted)"]


def run_verdict(noise: dict[str, Any], peaks: dict[str, list[dict[str, Any]]],
                baseline_spreads: list[float], verdicts: list[str]) -> dict[str, Any]:
    """``{"verdict": "quiet" | "noisy", "reasons": [...]}`` for the whole run.

    ``peaks``: each device's readings during the run; ``baseline_spreads``: IQR / median
    of the dense baselines' samples; ``verdicts``: every record's.
    """
    reasons = []
    share = _number(noise.get("other_cpu_median"))
    if share is not None and share > RUN_OTHER_CPU_MAX:
        reasons.append(f"other processes used a median {share:.0%} of the CPU while rows "
                       f"were timed (> {RUN_OTHER_CPU_MAX:.0%})")
    for device, readings in sorted(peaks.items()):
        rates = [p["flops_per_s"] for p in readings if _number(p.get("flops_per_s"))]
        if len(rates) > 1 and max(rates) / min(rates) > RUN_PEAK_RATIO_MAX:
            reasons.append(f"the {device} peak, measured {len(rates)} times, ranged "
                           f"{min(rates) / 1e9:.3g} to {max(rates) / 1e9:.3g} GFLOP/s")
    if baseline_spreads:
        spread = statistics.median(baseline_spreads)
        if spread > RUN_BASELINE_SPREAD_MAX:
            reasons.append(f"the dense baseline's samples spread a median {spread:.0%} "
                           f"(IQR / median > {RUN_BASELINE_SPREAD_MAX:.0%})")
    judged = [v for v in verdicts if v]
    invalid = sum(v == "INVALID" for v in judged)
    if judged and invalid / len(judged) > RUN_INVALID_SHARE_MAX:
        reasons.append(f"{invalid} of {len(judged)} timed rows are INVALID")
    return {"verdict": "noisy" if reasons else "quiet", "reasons": reasons}


def _get(row: Any, name: str) -> Any:
    if isinstance(row, dict):
        return row.get(name)
    getter = getattr(row, "get", None)
    return getter(name) if callable(getter) else getattr(row, name, None)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _busy_s() -> float | None:
    """Busy CPU seconds of the whole machine since boot (``/proc/stat``, steal counted)."""
    try:
        fields = (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    except (OSError, ValueError):
        return None
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_tree_s() -> float | None:
    """CPU seconds of this process, its live descendants and its reaped children."""
    try:
        stats = {int(p.name): _stat_fields(p) for p in PROC.iterdir() if p.name.isdigit()}
    except OSError:
        return None
    me = os.getpid()
    if stats.get(me) is None:
        return None
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(pid)
    total, todo = 0, [me]
    while todo:
        pid = todo.pop()
        fields = stats.get(pid)
        if fields is not None:
            total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
            todo += children.get(pid, [])
    return total / os.sysconf("SC_CLK_TCK")


def _stat_fields(path: Path) -> list[str] | None:
    try:
        text = (path / "stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def _cpu_mhz() -> float | None:
    """Mean current clock of the cores (cpufreq where exposed, else ``/proc/cpuinfo``)."""
    freqs = []
    for path in Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/scaling_cur_freq"):
        try:
            freqs.append(int(path.read_text()) / 1000.0)
        except (OSError, ValueError):
            continue
    if not freqs:
        try:
            freqs = [float(line.split(":")[1]) for line in
                     (PROC / "cpuinfo").read_text().splitlines() if line.startswith("cpu MHz")]
        except (OSError, ValueError, IndexError):
            return None
    return round(sum(freqs) / len(freqs), 1) if freqs else None
