"""What ``run-suite`` prints: the plan, a progress bar, result tables and the listing.

Uses rich; every function writes to the terminal only (files are ``suite.report``'s job).
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

# Piped output (CI logs) gets a width that fits the tables instead of rich's 80 columns.
console = Console(width=None if sys.stdout.isatty() else 150)


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
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=console, transient=True)
    with bar:
        task = bar.add_task("starting", total=total)
        yield ((lambda n=1: bar.advance(task, n)),
               (lambda text: bar.update(task, description=text[:60])))


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
    from suite.report import load_run

    frame = load_run(run_dir)
    for family, part in frame.groupby("family"):
        table = Table(title=f"{family}", show_lines=False, header_style="bold")
        for name in ("instance", "system", "status", "median ms", "speedup", "GFLOP/s",
                     part.accuracy_metric.iloc[0], "roofline"):
            table.add_column(name, justify="left" if name in ("instance", "system", "status")
                             else "right")
        for _, row in part.sort_values(["instance_label", "system"]).iterrows():
            table.add_row(escape(row.instance_label), escape(row.system), _status(row), _num(row.median_s, 1e3),
                          _num(row.speedup, 1, "x"), _num(row.gflops_useful),
                          _sci(row.accuracy_value), _num(row.roofline_fraction, 100, "%"))
        console.print(table)
        _print_reasons(part)


def _print_reasons(part) -> None:
    """Why rows did not run, once per distinct reason, under the table."""
    not_ok = part[part.status != "ok"]
    for (system, status, reason), rows in not_ok.groupby(["system", "status", "reason"]):
        console.print(f"  {escape(system)} {status} on {len(rows)} instance(s): {escape(reason)}",
                      highlight=False)


def _status(row) -> str:
    color = {"ok": "green", "failed": "red"}.get(row.status, "yellow")
    return f"[{color}]{row.status}[/]"


def _num(value, scale: float = 1.0, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value * scale:.3g}{suffix}"


def _sci(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.2e}"
