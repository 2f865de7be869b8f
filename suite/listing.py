"""``run-suite --list``: families with their parameters, kernels, devices and suites, and why not here.

Main entry: ``print_listing()``.
"""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from suite import registry
from suite.console import console


def print_listing() -> None:
    from suite.config import packaged_suites

    for name, spec in sorted(registry.families().items()):
        console.print(f"[bold]family {name}[/]: {spec.description}")
        for param, text in spec.param_help().items():
            console.print(f"    {param}: {escape(text)}", highlight=False)
        table = Table("kernel", "device", "runs here?", "what it is")
        for k in sorted(registry.kernels(name) + registry.kernels(registry.ANY_FAMILY),
                        key=lambda k: (k.device, k.name)):
            table.add_row(k.name, k.device, escape(_kernel_here(k)), escape(k.description))
        console.print(table)
    console.print("[bold]devices[/]")
    for kind, doc in sorted(registry.device_kinds().items()):
        reason = None if kind == "sim" else registry.make_device(kind).unavailable_reason()
        console.print(f"    {kind}: {escape(doc)}"
                      + (f"  [red]unavailable:[/] {escape(reason)}" if reason else ""))
    console.print("[bold]suites[/]: " + ", ".join(packaged_suites()))
    for module, error in sorted(registry.broken_plugins().items()):
        console.print(f"[red]plug-in {module} failed to import[/]: {escape(error)}")


def _kernel_here(spec) -> str:
    reason = spec.missing_needs()
    if reason is None and spec.device != "sim":
        reason = registry.make_device(spec.device).unavailable_reason()
    return "yes" if reason is None else f"no: {reason}"


