"""run-suite as a user meets it: help, listing, one-line errors with exit code 2, reports,
subcommands, isolation, and stopping a run with SIGINT / SIGTERM."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
import types
from collections import Counter
from fnmatch import fnmatch
from pathlib import Path

import pytest

from suite import cli
from suite.cli import main

REPO = Path(__file__).resolve().parents[1]

SLOW_SUITE = """
name: slow
defaults: {warmup: 0, min_repeats: 2, max_repeats: 2, min_time_s: 0.0}
workloads:
  - family: toy
    grid: {size: [1, 2, 3, 4, 5, 6]}
systems:
  - {device: cpu, kernel: slow, options: {delay_s: 0.1}}
"""

SMALL_SUITE = """
name: small
defaults: {min_repeats: 2, min_time_s: 0}
workloads:
  - family: toy
    grid: {size: [3, 4]}
systems:
  - {device: cpu, kernel: good}
  - {device: cpu, kernel: boom}
"""


def cli_env(plugins: str = "tests.toy_family", path: tuple[Path, ...] = ()) -> dict[str, str]:
    pythonpath = os.pathsep.join(str(p) for p in (REPO, *path))
    return {**os.environ, "PYTHONPATH": pythonpath, "SPARSECAP_PLUGINS": plugins}


def run_cli(*args: str, plugins: str = "tests.toy_family", path: tuple[Path, ...] = (),
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``run-suite ARGS`` in a fresh interpreter, as a user types it."""
    return subprocess.run([sys.executable, "-m", "suite.cli", *args], env=cli_env(plugins, path),
                          capture_output=True, text=True, timeout=300, cwd=cwd)


def assert_lines(text: str, patterns: list[str]) -> None:
    """Like pytest's fnmatch_lines: '*' is a wildcard, brackets are literal."""
    lines = text.splitlines()
    for pattern in patterns:
        glob = pattern.replace("[", "[[]")
        assert any(fnmatch(line, glob) for line in lines), f"no line matches {pattern!r}"


def one_line(text: str) -> str:
    """The one line a command printed (other plug-ins' import warnings aside: in a work tree
    someone else's module may be mid-edit; tests/test_registry.py checks those lines)."""
    lines = [line for line in text.strip().splitlines()
             if not line.startswith("run-suite: warning: plug-in ")]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def session(capsys):
    """session(*args) -> (exit code, stdout, stderr) of ``run-suite ARGS`` in this process."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def fake_runner(monkeypatch):
    """``suite.runner`` stood in for: ``run_plan`` records each call, then runs ``.during``.

    ``.during(call)`` is where a test sends signals; the summary says ``.rows`` rows were
    written and carries the signal ``request_stop`` got. Reports are recorded, not written.
    """
    module = types.ModuleType("suite.runner")
    module.calls, module.stops, module.reports, module.rows = [], [], [], 3
    module.during = lambda call: None

    def run_plan(plan, config, out_dir, **kwargs):
        call = types.SimpleNamespace(plan=plan, config=config, out_dir=out_dir, **kwargs)
        module.calls.append(call)
        module.during(call)
        return types.SimpleNamespace(written=[object()] * module.rows, resumed_rows=0,
                                     counts=Counter(), stopped=(module.stops or [None])[-1])

    module.run_plan = run_plan
    module.request_stop = module.stops.append
    monkeypatch.setitem(sys.modules, "suite.runner", module)
    monkeypatch.setattr(cli, "_report", lambda out, summary, s: module.reports.append(out))
    return module


def test_help_teaches_the_options_and_examples(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for text in ("--suite", "--only", "--systems", "--out", "--resume", "--list",
                 "--isolation {process,none}", "--force-resume",
                 "run-suite report runs/std", "run-suite simulate"):
        assert text in out
    assert_lines(out, ["other commands*", "  report *rebuild the tables*",
                       "  simulate *cycle-level N:M*"])


def test_list_shows_families_kernels_and_why_a_device_is_missing():
    result = run_cli("--list")
    assert result.returncode == 0
    assert_lines(result.stdout, ["family spmm*", "family toy*", "*cuda*unavailable*"])


@pytest.mark.parametrize("args, message", [
    (["--suite", "nope"], "run-suite: error: --suite: unknown suite 'nope'*"),
    (["--suite", "missing.yaml"], "run-suite: error: --suite: no such file 'missing.yaml'"),
    (["--only", "no-such-family"], "run-suite: error: --only: unknown family 'no-such-family'*"),
    (["report", "/nonexistent-run"], "run-suite: error: *no records.jsonl here*"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert_lines(result.stderr, [message])


def test_bad_yaml_points_at_the_line(write_suite):
    path = write_suite("name: x\nworkloads:\n  - family: toy\n    grid: {size: [1, two]}\n"
                       "systems:\n  - {device: cpu, kernel: good}\n")
    result = run_cli("--suite", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert_lines(result.stderr, ["*suite.yaml:4: workloads[0].grid.size[1]: got 'two'*"])


def test_a_run_prints_tables_and_writes_reports_then_report_rebuilds_them(tmp_path,
                                                                          write_suite):
    suite = write_suite("name: t\ndefaults: {min_repeats: 2, min_time_s: 0}\nworkloads:\n"
                        "  - family: toy\n    grid: {size: [3]}\nsystems:\n"
                        "  - {device: cpu, kernel: good}\n  - {device: cpu, kernel: boom}\n")
    out = tmp_path / "run"
    result = run_cli("--suite", str(suite), "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert_lines(result.stdout, ["*cpu/good*ok*", "*cpu/boom*failed*",
                                 "*cpu/boom failed on 1 instance(s): RuntimeError: kernel exploded*",
                                 "3 rows in * s: 2 ok, 1 failed, 0 skipped*"])
    for name in ("records.jsonl", "env.json", "results.csv", "leaderboard.md", "speedup.md",
                 "cap.md"):
        assert (out / name).exists(), name
    (out / "leaderboard.md").unlink()
    again = run_cli("report", str(out))
    assert again.returncode == 0 and (out / "leaderboard.md").exists()


def test_subcommands_keep_their_help_and_errors():
    simulate = run_cli("simulate", "--help")
    assert simulate.returncode == 0
    assert_lines(simulate.stdout, ["usage: run-suite simulate [-h] --hw FILE|NAME*",
                                   "Simulate a workload on an N:M structured-sparse*",
                                   "  run-suite simulate --hw dense-32x32 --workload GEMM:*"])
    missing = run_cli("simulate", "--hw", "dense-32x32")
    assert missing.returncode == 2
    assert_lines(missing.stderr, ["run-suite simulate: error: the following arguments are "
                                  "required: --workload"])
    report = run_cli("report", "--help")
    assert_lines(report.stdout, ["usage: run-suite report [-h] DIR", "Rebuild the terminal*"])


def test_isolation_defaults_to_a_worker_process_and_none_runs_here(session, fake_runner,
                                                                   write_suite, tmp_path):
    suite = str(write_suite(SMALL_SUITE))
    code, out, err = session("--suite", suite, "--out", str(tmp_path / "a"), "--no-progress")
    assert code == 0, err
    code, out, err = session("--suite", suite, "--out", str(tmp_path / "b"), "--no-progress",
                             "--isolation", "none")
    assert code == 0, err
    assert [c.isolation for c in fake_runner.calls] == ["process", "none"]
    assert fake_runner.reports == [tmp_path / "a", tmp_path / "b"]


def test_a_user_error_from_anywhere_is_one_line(session, fake_runner, write_suite, tmp_path):
    from suite.errors import UserError

    def bad_records(call):
        raise UserError("records.jsonl:7: not JSON\nfix or remove the line")

    fake_runner.during = bad_records
    code, out, err = session("--suite", str(write_suite(SMALL_SUITE)), "--out",
                             str(tmp_path / "r"), "--no-progress")
    assert code == 2
    assert one_line(err) == ("run-suite: error: records.jsonl:7: not JSON; "
                             "fix or remove the line")


def _send(*signals):
    def during(call):
        for sig in signals:
            assert signal.getsignal(sig) not in (signal.SIG_DFL, None), "no handler installed"
            os.kill(os.getpid(), sig)
    return during


def test_sigterm_stops_after_the_current_group_writes_reports_and_exits_143(
        session, fake_runner, write_suite, tmp_path):
    fake_runner.during = _send(signal.SIGTERM)
    out_dir = tmp_path / "run"
    code, out, err = session("--suite", str(write_suite(SMALL_SUITE)), "--out", str(out_dir),
                             "--no-progress")
    assert code == 143
    assert fake_runner.stops == ["SIGTERM"]
    assert fake_runner.reports == [out_dir]
    assert err.strip().splitlines()[-1] == (
        f"run-suite: stopped by SIGTERM after 3 rows; finish with: run-suite --out {out_dir} "
        "--resume")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored


def test_sigint_twice_stops_at_once(session, fake_runner, write_suite, tmp_path):
    fake_runner.during = _send(signal.SIGINT, signal.SIGINT)
    code, out, err = session("--suite", str(write_suite(SMALL_SUITE)), "--out",
                             str(tmp_path / "run"), "--no-progress")
    assert code == 130
    assert fake_runner.stops == ["SIGINT"] and fake_runner.reports == []
    assert_lines(err, ["run-suite: interrupted; finished rows are kept, continue with --resume"])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_runner_that_cannot_stop_is_interrupted_at_the_first_signal(
        session, fake_runner, write_suite, tmp_path):
    del fake_runner.request_stop
    fake_runner.during = _send(signal.SIGINT)
    code, out, err = session("--suite", str(write_suite(SMALL_SUITE)), "--out",
                             str(tmp_path / "run"), "--no-progress")
    assert code == 130 and fake_runner.stops == []


def _runner_can_stop() -> bool:
    try:
        return hasattr(importlib.import_module("suite.runner"), "request_stop")
    except Exception:
        return False


def test_sigterm_on_a_real_run_keeps_its_rows_and_resume_finishes_it(tmp_path, write_suite):
    if not _runner_can_stop():
        pytest.skip("suite.runner has no request_stop yet")
    out = tmp_path / "run"
    command = [sys.executable, "-m", "suite.cli", "--suite", str(write_suite(SLOW_SUITE)),
               "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(command, env=cli_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    records = out / "records.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and (not records.exists() or
                                      len(records.read_text().splitlines()) < 2):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert_lines(err, [f"run-suite: stopped by SIGTERM after * rows; finish with: "
                       f"run-suite --out {out} --resume"])
    assert (out / "leaderboard.md").exists()
    done = subprocess.run([sys.executable, "-m", "suite.cli", "--out", str(out), "--resume",
                           "--no-progress"], env=cli_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(records.read_text().splitlines()) == 12
