"""Registers ``run-suite simulate``: the simulator's subcommand, loaded with the plug-ins.

The command itself lives in ``simulators.cli`` (arguments, examples, the run); it is
imported only when ``run-suite simulate`` is used, so other commands never pay for it.
"""

from __future__ import annotations

import argparse

from suite.registry import register_command


class _Into:
    """Stands in for argparse's sub-parsers: ``add_parser`` settles into one given parser."""

    def __init__(self, parser: argparse.ArgumentParser):
        self.parser = parser

    def add_parser(self, name: str, help: str = "", **settings) -> argparse.ArgumentParser:
        for key, value in settings.items():  # description, epilog, formatter_class
            setattr(self.parser, key, value)
        return self.parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from simulators.cli import add_simulate_parser

    add_simulate_parser(_Into(parser))


def run(args: argparse.Namespace) -> int:
    from simulators.cli import run_simulate

    return run_simulate(args)


register_command("simulate", add_arguments, run,
                 help="cycle-level N:M systolic-array simulation and what-if sweeps")
