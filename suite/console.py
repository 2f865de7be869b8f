"""What ``run-suite`` prints: the plan, a progress bar and the result summaries.

Uses rich; every function writes to the terminal only (files are ``suite.report``'s job;
``--list`` is ``suite.listing``'s). After a run, ``print_tables`` shows one summary per
family and device kind that fits 100 columns (the ranking of ``suite.ranking``: threads,
geometric-mean speedup with its interval, accuracy with its recorded direction, row
counts), why systems did not run, flagged rows, and the run's noise verdict; every row is
in the files. ``family_table`` is the full per-row table. The progress bar names the
instance and systems being measured and estimates the time left.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

WIDTH = 100
# Piped output (CI logs) gets the width the summaries are made for, not rich's 80 columns.
console = Console(width=None if sys.stdout.isatty() else WIDTH)


def print_plan(plan, config, out_dir: Path) -> None:
    devices = ", ".join(f"{n}" + (f" (unavailable: {escape(d.unavailable_reason())})"
                                  if d.unavailable_reason() else "")
                        for n, d in plan.devices.items())
    console.print(f"[bold]suite[/] {config.name}: {len(plan.instances)} instances, "
                  f"{plan.row_count} rows on {devices}")
    console.print(f"[bold]out[/] {out_dir}")


@contextlib.contextmanager
def progress(total: int, enabled: bool = True) -> Iterator[tuple]:
    if not enabled:
        yield (lambda n=1: None), (lambda text: None)
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(bar_width=16),
                   MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                   TimeRemainingColumn(), console=console, transient=True)
    with bar:
        task = bar.add_task("starting", total=total)
        yield ((lambda n=1: bar.advance(task, n)),
               (lambda text: bar.update(task, description=escape(_fit(text, 52)))))


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def print_summary(out_dir: Path, summary, paths: list[Path], elapsed_s: float) -> None:
    print_tables(out_dir)
    counts = summary.counts
    console.print(f"[bold]{len(summary.written)} rows[/] in {elapsed_s:.0f} s: "
                  f"{counts.get('ok', 0)} ok, {counts.get('failed', 0)} failed, "
                  f"{counts.get('skipped', 0)} skipped"
                  + (f"; {summary.resumed_rows} kept from before" if summary.resumed_rows else ""))
    print_paths(paths)


def print_paths(paths: list[Path]) -> None:
    if paths:
        console.print("[bold]wrote[/] " + ", ".join(str(p) for p in paths))


def print_tables(run_dir: Path) -> None:
    """One summary per family and device kind; why rows did not run, flagged rows, and
    the run's noise verdict under them."""
    from suite.console_summary import summary_table, title
    from suite.ranking import overhead_only, rankings
    from suite.report import load_run, run_env

    frame = load_run(run_dir)
    for ranking in rankings(frame):
        part = frame[(frame.family == ranking.family)
                     & (frame.device_kind == ranking.device_kind)]
        if ranking.board.empty:
            console.print(f"[bold]{escape(title(ranking))}[/]", highlight=False)
        else:
            console.print(summary_table(ranking, part[~overhead_only(part)]))
        _print_reasons(part)
        _print_invalid(ranking)
        _print_flags(part)
    print_verdict(run_env(run_dir))
    console.print("every row: results.csv, speedup.md, cap.md, leaderboard.md", highlight=False)


def print_verdict(env: dict) -> None:
    noise = env.get("noise") or {}
    if not noise.get("verdict"):
        return
    color = "green" if noise["verdict"] == "quiet" else "bold yellow"
    reasons = "; ".join(noise.get("reasons") or []) or "no sign of noise"
    console.print(f"[{color}]run verdict: {noise['verdict']}[/] ({escape(reasons)})",
                  highlight=False)


def _print_invalid(ranking) -> None:
    """Systems every timed row of which is INVALID: ran fine, left out of the ranking."""
    for row in ranking.not_ranked.itertuples():
        if row.status == "INVALID":
            console.print(f"  {escape(row.system)} ok on {row.rows} instance(s) but INVALID, "
                          f"not ranked: {escape(row.why)}", highlight=False)


def family_table(family: str, part) -> Table:
    """The terminal table of one family's rows (a rich ``Table``)."""
    from suite.frames import metric_info
    from suite.report import RANK, baseline_names, rank_basis

    rank = rank_basis(part) == RANK
    scenarios = sorted(set(part.get("scenario", ["batch"])))
    table = Table(title=f"{family}", show_lines=False, header_style="bold",
                  caption=f"times in ms, {_basis_text(part)}", caption_justify="left")
    headers = (["instance", "system"] + (["scenario"] if len(scenarios) > 1 else [])
               + ["status", *_timing_headers(part), "speedup"]
               + ([f"vs {baseline_names(part, RANK)}"] if rank else [])
               + ["GFLOP/s", metric_info(part).label.replace(" (", "\n("), "roofline"])
    for name in headers:
        left = name in ("instance", "system", "scenario", "status")
        table.add_column(escape(name), justify="left" if left else "right",
                         no_wrap=name == "system", min_width=24 if name == "instance" else None)
    for _, row in part.sort_values(["instance_label", "system"]).iterrows():
        cells = ([escape(row.instance_label), escape(row.system)]
                 + ([row.scenario] if len(scenarios) > 1 else [])
                 + [_status(row), *_timing_cells(row), _num(row.speedup, 1, "x")]
                 + ([_num(row.get(RANK), 1, "x")] if rank else [])
                 + [_num(row.gflop_per_s_useful), _sci(row.accuracy_value),
                    _num(row.roofline_fraction, 100, "%")])
        table.add_row(*cells)
    return table


def _timing_headers(part) -> list[str]:
    """``median ms`` and ``p90 ms`` (batch) or ``p50 ms`` and ``p99 ms`` (per_query), with
    the basis: each sample one call, or the mean of N back-to-back calls."""
    per_query = set(part.get("scenario", ["batch"])) == {"per_query"}
    middle, tail = ("p50 ms", "p99 ms") if per_query else ("median ms", "p90 ms")
    if not per_query and "per_query" in set(part.get("scenario", [])):
        tail = "p90 ms\n(p99 per query)"
    return [middle, tail]


def _basis_text(part) -> str:
    timed = part[part.status == "ok"]
    bases = set(timed.get("percentile_basis", ["per_sample"]))
    if bases == {"per_call"}:
        return "per call"
    if bases <= {"per_sample"}:
        calls = set(timed.get("calls_per_sample", [1]))
        many = len(calls) == 1 and next(iter(calls), 1) > 1
        return f"per sample of {next(iter(calls))} calls" if many else "per sample"
    return "per sample or call"


def _timing_cells(row) -> list[str]:
    per_query = row.get("scenario") == "per_query"
    middle = row.get("p50_s") if per_query and _present(row.get("p50_s")) else row.median_s
    tail = row.get("p99_s") if per_query else row.p90_s
    return [_num(middle, 1e3), _num(tail, 1e3)]


def _print_reasons(part) -> None:
    """Why rows did not run, once per system and reason; reasons that differ only in the
    value they got (``needs an N:M pattern; got dense``) are one line with the values."""
    not_ok = part[part.status != "ok"]
    groups: dict[tuple[str, str, str], list[str]] = {}
    for row in not_ok.itertuples():
        reason, _, got = str(row.reason).partition("; got ")
        groups.setdefault((row.system, row.status, reason), []).append(got)
    for (system, status, reason), gots in groups.items():
        values = sorted({g for g in gots if g})
        detail = f" (got {', '.join(values)})" if len(values) > 1 else (
            f"; got {values[0]}" if values else "")
        console.print(f"  {escape(system)} {status} on {len(gots)} instance(s): "
                      f"{escape(reason + detail)}", highlight=False)


def _print_flags(part) -> None:
    """Ok rows that carry flags (``ok!`` in the table), once per (system, flag)."""
    counts: dict[tuple[str, str], int] = {}
    for _, row in part[part.status == "ok"].iterrows():
        for flag in _flags(row):
            counts[(row.system, flag)] = counts.get((row.system, flag), 0) + 1
    for (system, flag), n in counts.items():
        console.print(f"  {escape(system)} ok! on {n} instance(s): {escape(flag)}",
                      highlight=False)


def _flags(row) -> list[str]:
    flags = row.get("flags")
    return [str(flag) for flag in flags] if isinstance(flags, list) else []


def _status(row) -> str:
    color = {"ok": "green", "failed": "red"}.get(row.status, "yellow")
    if row.status == "ok" and _flags(row):
        return f"[{color}]ok[/][bold yellow]![/]"
    return f"[{color}]{row.status}[/]"


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _num(value, scale: float = 1.0, suffix: str = "") -> str:
    if not _present(value):
        return "-"
    return f"{value * scale:.3g}{suffix}"


def _sci(value) -> str:
    if not _present(value):
        return "-"
    return f"{value:.2e}"
