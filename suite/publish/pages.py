"""The site's pages: one per (run, family), and an index comparing the runs' machines.

A family page holds the run's verdict, the machine it ran on, the fair rankings of
``suite.ranking`` per device kind, every row in one sortable, filterable table (speedup
with its interval, accuracy, CAP figures, the command that reproduces the row), and the
family's plots. Main entries: ``family_page(run, family)``, ``index_page(runs)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from suite.frames import metric_info
from suite.leaderboard import heading, interval_text
from suite.publish.html import (
    Cell,
    cell_of,
    definition_list,
    esc,
    image,
    page,
    paragraph,
    section,
    table,
)
from suite.ranking import geomean, overhead_only, rankings, usable


@dataclass
class Run:
    path: Path
    slug: str
    frame: pd.DataFrame
    env: dict[str, Any]
    manifest: dict[str, Any]

    @property
    def families(self) -> list[str]:
        return sorted(self.frame.family.unique())

    @property
    def label(self) -> str:
        return f"{self.suite} on {self.machine} ({self.path.name})"

    @property
    def suite(self) -> str:
        return str((self.env.get("suite") or {}).get("name") or self.frame.suite.iloc[0])

    @property
    def machine(self) -> str:
        cpu = next((d.get("cpu_model") for d in (self.env.get("devices") or {}).values()
                    if isinstance(d, dict) and d.get("cpu_model")), "unknown CPU")
        gpus = sorted({str(d["gpu"]) for d in (self.env.get("devices") or {}).values()
                       if isinstance(d, dict) and d.get("gpu")})
        return f"{cpu} x {self.env.get('logical_cores', '?')}" + "".join(f" + {g}" for g in gpus)


def page_name(run: Run, family: str) -> str:
    return f"{run.slug}/{safe(family)}.html"


def safe(text: str) -> str:
    """A file-name-safe version of any string (records may hold anything)."""
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in str(text))
    return cleaned.strip(".") or "_"


def family_page(run: Run, family: str, plots: list[str]) -> str:
    part = run.frame[run.frame.family == family]
    nav = [("index", "../index.html")] + [(f, f"{safe(f)}.html") for f in run.families]
    body = verdict_box(run.env) + section("Machine", machine_details(run))
    for ranking in rankings(part):
        rows = part[(part.device_kind == ranking.device_kind) & ~overhead_only(part)]
        body += section(heading(ranking).lstrip("# "), ranking_table(ranking, rows))
    body += section("Every row", _rows_tools(family) + '<div class="wide">'
                    + rows_table(run, part, family) + "</div>")
    if plots:
        body += section("Plots", "".join(image(p, p.rsplit("/", 1)[-1]) for p in plots))
    return page(f"{family}: {run.label}", body, nav)


def verdict_box(env: dict[str, Any]) -> str:
    noise = env.get("noise") or {}
    if not noise.get("verdict"):
        return paragraph("Run verdict: not recorded (a run made before noise was measured).",
                         "note")
    reasons = "; ".join(noise.get("reasons") or []) or "no sign of noise"
    return paragraph(f"Run verdict: {noise['verdict']} ({reasons})",
                     f"verdict-{safe(noise['verdict'])}")


def machine_details(run: Run) -> str:
    env = run.env
    blas = "; ".join(f"{b.get('internal_api') or b.get('user_api')} {b.get('version')} "
                     f"({b.get('num_threads')} threads)" for b in env.get("blas") or []
                     if isinstance(b, dict))
    peaks = "; ".join(f"{d}: {p.get('flops_per_s', 0) / 1e9:.3g} GFLOP/s, "
                      f"{p.get('bytes_per_s', 0) / 1e9:.3g} GB/s"
                      for d, p in (env.get("peaks") or {}).items() if isinstance(p, dict))
    libraries = ", ".join(f"{k} {v}" for k, v in (env.get("libraries") or {}).items())
    return definition_list([
        ("machine", run.machine), ("platform", env.get("platform", "")),
        ("python", env.get("python", "")), ("BLAS", blas or "-"),
        ("libraries", libraries or "-"), ("git commit", env.get("git_commit", "")),
        ("suite", f"{run.suite} ({(env.get('suite') or {}).get('source', '')})"),
        ("started", env.get("started", "")), ("best peaks measured", peaks or "-"),
        ("run directory", run.path.name)])


def ranking_table(ranking, rows: pd.DataFrame) -> str:
    if ranking.board.empty:
        return paragraph("No system has a usable row here.")
    label = metric_info(rows).label
    headers = ["rank", "system", "threads", "n", "speedup [95% CI]", "all rows (n)",
               f"median {label}", "ok/failed/skipped", "INVALID", "note"]
    cells = [[cell_of(r.rank, "{:d}"), Cell(r.system), cell_of(r.threads, "{:.1f}"),
              cell_of(r.n, "{:d}"), Cell(interval_text(r.geomean, r.low, r.high), _num(r.geomean)),
              Cell(f"{interval_text(r.own_geomean, None, None)} ({r.own_n})", _num(r.own_geomean)),
              cell_of(r.accuracy), Cell(f"{r.ok}/{r.failed}/{r.skipped}"),
              cell_of(r.invalid, "{:d}"), Cell(r.note)] for r in ranking.board.itertuples()]
    out = table(f"rank-{safe(ranking.device_kind)}", headers, cells, filterable=False)
    if ranking.all_invalid:
        out = paragraph("Every timed row here is INVALID (a noisy run): shown, not ranked.",
                        "verdict-noisy") + out
    for r in ranking.not_ranked.itertuples():
        out += paragraph(f"Not ranked: {r.system} {r.status} on {r.rows} instance(s): {r.why}",
                         "note")
    return out


def _rows_tools(family: str) -> str:
    return (f'<p><label><input type="checkbox" data-hide-invalid="rows-{esc(safe(family))}">'
            " hide INVALID rows</label></p>")


def rows_table(run: Run, part: pd.DataFrame, family: str) -> str:
    metric = metric_info(part)
    headers = ["instance", "system", "device", "status", "verdict", "speedup [95% CI]",
               "median ms", f"{metric.label}", "cost US$/M units", "units/s", "S-MFU",
               "S-MBU", "roofline", "threads", "why", "reproduce"]
    rows = [row_cells(run, r, family) for _, r in part.sort_values(
        ["instance_label", "system"]).iterrows()]
    return table(f"rows-{safe(family)}", headers, rows)


def row_cells(run: Run, r: pd.Series, family: str) -> list[Cell]:
    reasons = [r.reason] if r.reason else list(r.verdict_reasons or []) or list(
        map(str, r["flags"] or []))
    short = (reasons[0].split(" (")[0] + (f" (+{len(reasons) - 1} more)" if len(reasons) > 1
                                          else "")) if reasons else ""
    return [Cell(r.instance_label), Cell(r.system), Cell(r.device),
            Cell(r.status, css=r.status if r.status != "ok" else ""),
            Cell(r.verdict or "-", css="invalid" if r.verdict == "INVALID" else ""),
            Cell(interval_text(r.speedup, r.speedup_low, r.speedup_high) if _present(
                r.speedup) else "-", _num(r.speedup)),
            cell_of(None if not _present(r.median_s) else r.median_s * 1e3),
            cell_of(r.accuracy_value, "{:.3g}"), cell_of(r.cost_usd_per_million_units),
            cell_of(r.throughput_units_per_s), cell_of(r.s_mfu), cell_of(r.s_mbu),
            _percent(r.roofline_fraction),
            cell_of(r.threads_used, "{:.1f}"), Cell(short, css="why", title="; ".join(reasons)),
            Cell(reproduce(run, family, r.system), css="cmd")]


def reproduce(run: Run, family: str, system: str) -> str:
    """The command that measures this row again (with the system's other rows)."""
    suite = (run.manifest.get("suite") or {})
    argument = suite.get("argument") or run.suite
    commit = str(run.env.get("git_commit") or "").replace("+dirty", "")
    checkout = f"git checkout {commit[:12]} && " if commit else ""
    return f"{checkout}run-suite --suite {argument} --only {family} --systems '{system}'"


def index_page(runs: list[Run]) -> str:
    headers = ["run", "suite", "machine", "commit", "started", "verdict", "ok", "failed",
               "skipped", "families"]
    rows = []
    for run in runs:
        counts = run.frame.status.value_counts()
        rows.append([Cell(run.path.name), Cell(run.suite), Cell(run.machine),
                     Cell(str(run.env.get("git_commit", ""))[:12]),
                     Cell(run.env.get("started", "")),
                     Cell((run.env.get("noise") or {}).get("verdict", "not recorded")),
                     cell_of(int(counts.get("ok", 0)), "{:d}"),
                     cell_of(int(counts.get("failed", 0)), "{:d}"),
                     cell_of(int(counts.get("skipped", 0)), "{:d}"),
                     Cell(", ".join(run.families))])
    body = section("Runs", table("runs", headers, rows, filterable=len(runs) > 3))
    body += "<ul>" + "".join(
        f'<li>{esc(run.label)}: ' + ", ".join(
            f'<a href="{esc(page_name(run, f))}">{esc(f)}</a>' for f in run.families)
        + "</li>" for run in runs) + "</ul>"
    if len(runs) > 1:
        body += section("Machines compared: geometric-mean speedup over dense, valid rows",
                        comparison_table(runs))
    return page("SparseCAP leaderboard", body)


def comparison_table(runs: list[Run]) -> str:
    keys = sorted({(f, k, s) for run in runs for f, k, s in
                   run.frame[["family", "device_kind", "system"]].itertuples(index=False)})
    headers = ["family", "device", "system"] + [run.path.name for run in runs]
    rows = []
    for family, kind, system in keys:
        cells = [Cell(family), Cell(kind), Cell(system)]
        for run in runs:
            mine = usable(run.frame[(run.frame.family == family) & (run.frame.device_kind == kind)
                                    & (run.frame.system == system)], "speedup", False)
            value = geomean(mine.speedup) if len(mine) else math.nan
            cells.append(Cell("-" if math.isnan(value) else f"{value:.3g}x (n={len(mine)})",
                              None if math.isnan(value) else value))
        rows.append(cells)
    return table("compare", headers, rows)


def _percent(value) -> Cell:
    """A roofline fraction; above 1 it is no figure to publish, only a reason (INVALID)."""
    if _present(value) and value > 1:
        return Cell("> 100 % (INVALID)", float(value) * 100, "invalid")
    return cell_of(None if not _present(value) else value * 100, "{:.0f}", " %")


def _num(value) -> float | str:
    return float(value) if _present(value) else ""


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))
