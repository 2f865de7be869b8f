"""``run-suite --list``: families with their parameters, kernels, devices and suites, and why not here.

Every device kind answers for itself whether it can run here (``DeviceKind.unavailable``),
so nothing here knows a kind by name. Plug-ins that failed to import are reported by the
CLI on stderr. Main entry: ``print_listing()``.
"""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from suite import registry
from suite.console import console


def print_listing() -> None:
    from suite.config import packaged_suites

    kinds = registry.device_kinds()
    reasons = {kind: spec.unavailable_reason() for kind, spec in kinds.items()}
    for name, spec in sorted(registry.families().items()):
        _print_family(name, spec, reasons)
    console.print("[bold]devices[/]")
    for kind, spec in sorted(kinds.items()):
        reason = reasons[kind]
        console.print(f"    {kind}: {escape(spec.doc)}"
                      + (f"  [red]unavailable:[/] {escape(reason)}" if reason else ""))
    console.print("[bold]suites[/]: " + ", ".join(packaged_suites()))


def _print_family(name: str, spec, reasons: dict[str, str | None]) -> None:
    console.print(f"[bold]family {name}[/]: {spec.description}")
    for param, text in spec.param_help().items():
        console.print(f"    {param}: {escape(text)}", highlight=False)
    table = Table("kernel", "device", "runs here?", "what it is")
    for k in sorted(registry.kernels(name) + registry.kernels(registry.ANY_FAMILY),
                    key=lambda k: (k.device, k.name)):
        table.add_row(k.name, k.device, escape(_kernel_here(k, reasons)), escape(k.description))
    console.print(table)


def _kernel_here(spec, reasons: dict[str, str | None]) -> str:
    reason = spec.missing_needs()
    if reason is None:
        known = spec.device in reasons
        reason = reasons[spec.device] if known else registry.device_unavailable(spec.device)
    return "yes" if reason is None else f"no: {reason}"
