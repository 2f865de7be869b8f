"""The ``run-suite`` command: run a benchmark suite, or any registered subcommand.

    run-suite                               # the quick suite on this machine's CPU
    run-suite --suite standard --out runs/std
    run-suite --only spmm --systems 'cpu/*'
    run-suite --out runs/std --resume       # finish a run that was killed or stopped
    run-suite --list                        # families, kernels, devices and why not
    run-suite report runs/std               # tables and plots from records alone
    run-suite simulate --hw sparse-tc-32x32 --workload bert-base --sweep nm=2:4,1:4,dense

Subcommands register with ``suite.registry.register_command`` (this module registers
``report``). During a run, SIGINT or SIGTERM finishes the current group, writes the reports
of what is done and exits 130 / 143; a second signal stops at once. Errors in the user's
input print one line and exit with code 2; a plug-in that fails to import is one warning
line on every command.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import time
from pathlib import Path

from suite import registry, rundir, threads
from suite.errors import UserError

DEFAULT_SUITE = "quick"


def build_run_parser(commands: dict[str, registry.CommandSpec] | None = None
                     ) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run-suite", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a SparseCAP benchmark suite: every workload instance on every system "
                    "(device x kernel), each result checked against its float64 reference, "
                    "timed interleaved with the dense baseline of the same device.",
        epilog="examples:\n" + __doc__.split("\n\n", 1)[1].split("\n\nSubcommands")[0]
        + _commands_epilog(commands or {}))
    parser.add_argument("--suite", metavar="FILE|NAME",
                        help="a suite YAML file or a packaged suite (quick [default], standard)")
    parser.add_argument("--only", metavar="FAMILY[,FAMILY]",
                        help="run only these workload families (e.g. spmm or spmm,moe)")
    parser.add_argument("--systems", metavar="PATTERN[,PATTERN]",
                        help="run only systems whose id matches a glob, e.g. 'cpu/*' or "
                             "'cpu/nm-numba,cpu/scipy-csr' (the dense baseline is always kept)")
    parser.add_argument("--out", metavar="DIR", type=Path,
                        help="run directory (default: runs/<suite>-<date>-<time>)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out (default: the newest run of this "
                             "suite) with its own suite and settings, skipping rows recorded")
    parser.add_argument("--force-resume", action="store_true",
                        help="with --resume: continue even if the suite file, a flag or the "
                             "machine differs from the run's (flags given here win)")
    parser.add_argument("--isolation", choices=rundir.ISOLATIONS,
                        help="process [default]: kernels run in a worker process, so a hang "
                             "or a crash costs only their own rows; none: in this process, "
                             "for debugging")
    parser.add_argument("--prices", metavar="FILE",
                        help="YAML mapping device name -> US$ per hour, overriding prices.yaml")
    parser.add_argument("--list", action="store_true",
                        help="list families, kernels, devices and suites, with why any "
                             "cannot run here, then exit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _commands_epilog(commands: dict[str, registry.CommandSpec]) -> str:
    if not commands:
        return ""
    width = max(len(name) for name in commands)
    lines = [f"  {name:<{width}}  {spec.help}" for name, spec in sorted(commands.items())]
    return ("\n\nother commands ('run-suite COMMAND --help' for each):\n" + "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    threads.apply()  # before numpy loads its BLAS, so idle pools do not skew timings
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        commands = _load_commands()
        if args and args[0] in commands:
            return _run_registered(commands[args[0]], args[1:])
        return _run_command(build_run_parser(commands).parse_args(args))
    except UserError as exc:
        print(f"run-suite: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print("run-suite: interrupted; finished rows are kept, continue with --resume",
              file=sys.stderr)
        return getattr(exc, "exit_code", 130)


def _load_commands() -> dict[str, registry.CommandSpec]:
    """Load the plug-ins, warn in one line for each that failed, return the subcommands."""
    for name, error in sorted(registry.broken_plugins().items()):
        print(f"run-suite: warning: plug-in {name} failed to import: {error}", file=sys.stderr)
    return registry.commands()


def _one_line(exc: Exception) -> str:
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def _run_registered(spec: registry.CommandSpec, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"run-suite {spec.name}",
                                     description=spec.description or spec.help)
    spec.add_arguments(parser)
    return spec.run(parser.parse_args(argv))


def _run_command(args: argparse.Namespace) -> int:
    if args.list:
        from suite.listing import print_listing
        print_listing()
        return 0
    if args.force_resume and not args.resume:
        raise UserError("--force-resume: given without --resume; allowed only with --resume")
    request = rundir.RunRequest(
        suite=args.suite, only=_split(args.only) if args.only else None,
        systems=_split(args.systems) if args.systems else None, prices=args.prices,
        isolation=args.isolation)
    return _resume(args, request) if args.resume else _fresh(args, request)


def _fresh(args: argparse.Namespace, request: rundir.RunRequest) -> int:
    setup = rundir.fresh_setup(request, DEFAULT_SUITE)
    plan = _plan(setup)
    out_dir = args.out or Path("runs") / f"{setup.config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    with rundir.claim(out_dir):
        manifest = rundir.start_run(out_dir, setup, request)
        return _execute(plan, setup, out_dir, manifest, args, resume=False)


def _resume(args: argparse.Namespace, request: rundir.RunRequest) -> int:
    out_dir = args.out or _newest_run(request.suite or DEFAULT_SUITE)
    with rundir.claim(out_dir):
        manifest = rundir.read_manifest(out_dir)
        if manifest is None:
            print(f"run-suite: note: {out_dir} has no {rundir.RUN_FILE} (an older run-suite "
                  "made it); resuming with this command's --suite, --only and --systems",
                  file=sys.stderr)
            setup = rundir.fresh_setup(request, DEFAULT_SUITE)
            plan = _plan(setup)
            manifest = rundir.start_run(out_dir, setup, request, resumed_v1=True)
        else:
            setup = rundir.resume_setup(manifest, request, args.force_resume)
            plan = _plan(setup)
            if args.force_resume:
                rundir.update_manifest(manifest, setup, request)
            rundir.add_segment(out_dir, manifest, resume=True, forced=args.force_resume,
                               isolation=setup.isolation)
        return _execute(plan, setup, out_dir, manifest, args, resume=True)


def _plan(setup: rundir.RunSetup):
    from suite.plan import make_plan

    return make_plan(setup.config, set(setup.only) if setup.only else None, setup.systems)


def _newest_run(suite: str) -> Path:
    from suite.config import load_suite

    name = load_suite(suite).name
    previous = sorted(Path("runs").glob(f"{name}-*"))
    if not previous:
        raise UserError(f"--resume: no earlier run of suite {name!r} under runs/; "
                        "name one with --out")
    return previous[-1]


def _execute(plan, setup: rundir.RunSetup, out_dir: Path, manifest: rundir.RunManifest,
             args: argparse.Namespace, resume: bool) -> int:
    from suite import console

    console.print_plan(plan, setup.config, out_dir)
    started = time.perf_counter()
    with StopOnSignal() as stop:
        with console.progress(plan.row_count, enabled=not args.no_progress) as (advance, status):
            summary = _call_runner(plan, setup, out_dir, resume, advance, status)
        stopped = getattr(summary, "stopped", stop.received)
        rundir.finish_segment(out_dir, manifest, len(summary.written), stopped)
        _report(out_dir, summary, time.perf_counter() - started)
    if not stopped:
        return 0
    print(f"run-suite: stopped by {stopped} after {len(summary.written)} rows; finish with: "
          f"run-suite --out {out_dir} --resume", file=sys.stderr)
    return 128 + getattr(signal.Signals, stopped, signal.SIGINT).value


def _call_runner(plan, setup: rundir.RunSetup, out_dir: Path, resume: bool, advance, status):
    from suite.runner import run_plan

    return run_plan(plan, setup.config, out_dir, resume=resume, prices=setup.prices,
                    progress=advance, status=status, isolation=setup.isolation)


def _report(out_dir: Path, summary, elapsed_s: float) -> None:
    """Tables and report files of what is recorded (nothing, if no row finished yet)."""
    from suite import console
    from suite.report import write_reports

    records = out_dir / rundir.RECORDS_FILE
    if not records.exists() or records.stat().st_size == 0:
        return
    paths = write_reports(out_dir)
    console.print_summary(out_dir, summary, paths, elapsed_s)


class StopOnSignal:
    """SIGINT / SIGTERM during a run: the first asks the runner to stop after the current
    group (``suite.runner.request_stop``); a second, or one the runner cannot take, stops
    at once as KeyboardInterrupt with the signal's exit code."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.received: str | None = None
        self._previous: dict[int, object] = {}
        self._request_stop = None

    def __enter__(self) -> StopOnSignal:
        runner = importlib.import_module("suite.runner")
        self._request_stop = getattr(runner, "request_stop", None)
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame) -> None:
        if self.received is not None or self._request_stop is None:
            raise Interrupted(128 + signum)
        self.received = signal.Signals(signum).name
        print(f"run-suite: {self.received}: finishing the current group, then writing the "
              "reports (send it again to stop at once)", file=sys.stderr)
        self._request_stop(self.received)


class Interrupted(KeyboardInterrupt):
    """A run stopped at once by a signal; ``exit_code`` is 128 + the signal number."""

    def __init__(self, exit_code: int):
        super().__init__(exit_code)
        self.exit_code = exit_code


def _add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="DIR", help="a run directory")


def _run_report(args: argparse.Namespace) -> int:
    from suite import console
    from suite.report import write_reports

    paths = write_reports(args.run_dir)
    console.print_tables(args.run_dir)
    console.print_paths(paths)
    return 0


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


registry.register_command(
    "report", _add_report_arguments, _run_report,
    help="rebuild the tables and plots of a run directory from its records",
    description="Rebuild the terminal table, leaderboard.md, speedup.md, cap.md, "
                "results.csv and the PNG plots of a run directory from its records.jsonl.")
importlib.import_module("suite.gate_cli")  # registers compare, baseline, history, publish

if __name__ == "__main__":
    sys.exit(main())
