"""The run directory as a user meets it: --out checked first, one writer at a time, and
run.json, so --resume continues the run's own suite and settings or says why not."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from suite import rundir
from tests import test_cli
from tests.test_cli import SMALL_SUITE, assert_lines, cli_env, one_line, run_cli

session = test_cli.session          # fixtures: run-suite in this process,
fake_runner = test_cli.fake_runner  # with suite.runner stood in for

HOLD_LOCK = """
import sys
from pathlib import Path
from suite.rundir import claim
with claim(Path(sys.argv[1])):
    print("holding", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def small_suite(write_suite) -> str:
    return str(write_suite(SMALL_SUITE))


def test_out_under_a_regular_file_is_one_line(tmp_path, small_suite):
    (tmp_path / "notes.txt").write_text("not a folder")
    result = run_cli("--suite", small_suite, "--out", str(tmp_path / "notes.txt" / "run"))
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        f"run-suite: error: --out {tmp_path}/notes.txt/run: cannot write a run directory "
        f"there: Not a directory ({tmp_path}/notes.txt is a regular file)")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_out_in_a_read_only_directory_is_one_line(tmp_path, small_suite):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = run_cli("--suite", small_suite, "--out", str(locked / "run"))
    assert result.returncode == 2
    assert one_line(result.stderr) == (f"run-suite: error: --out {locked}/run: cannot write "
                                       "a run directory there: Permission denied")


def test_an_unwritable_out_names_the_os_reason(session, small_suite, tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(rundir, "tempfile", types.SimpleNamespace(TemporaryFile=read_only))
    code, out, err = session("--suite", small_suite, "--out", str(tmp_path / "run"))
    assert code == 2
    assert one_line(err) == (f"run-suite: error: --out {tmp_path}/run: cannot write a run "
                             "directory there: Read-only file system")


def test_a_second_run_or_resume_on_the_same_out_is_refused(tmp_path, small_suite):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out)], env=cli_env(),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "holding\n"
        expected = (f"run-suite: error: --out {out} is in use by another run-suite "
                    f"(pid {holder.pid} since *); wait for it or choose another --out")
        for extra in ([], ["--resume"]):
            result = run_cli("--suite", small_suite, "--out", str(out), *extra)
            assert result.returncode == 2
            assert_lines(one_line(result.stderr), [expected])
        assert not (out / "run.json").exists()
    finally:
        holder.communicate("", timeout=30)
    with rundir.claim(out):  # the holder is gone, so is its lock
        pass


def test_run_json_says_what_the_run_is(session, fake_runner, small_suite, tmp_path):
    prices = tmp_path / "prices.yaml"
    prices.write_text("cpu: 0.5\n")
    out = tmp_path / "run"
    code, _, err = session("--suite", small_suite, "--out", str(out), "--only", "toy",
                           "--systems", "cpu/good", "--prices", str(prices), "--no-progress")
    assert code == 0, err
    run = json.loads((out / "run.json").read_text())
    assert run["suite"]["name"] == "small" and run["suite"]["source"] == small_suite
    assert run["suite"]["yaml"] == Path(small_suite).read_text()
    assert run["config_hash"] == fake_runner.calls[0].config.config_hash
    assert (run["only"], run["systems"], run["isolation"]) == (["toy"], ["cpu/good"], "process")
    assert run["prices"] == {"path": str(prices), "content": "cpu: 0.5\n"}
    assert set(run["machine"]) == {"cpu_model", "logical_cores", "platform"}
    assert run["started_at"] and len(run["segments"]) == 1
    assert run["segments"][0]["pid"] == os.getpid() and run["segments"][0]["rows"] == 3
    assert json.loads((out / ".lock").read_text())["pid"] == os.getpid()


def test_resume_continues_the_runs_own_suite_filters_and_settings(session, fake_runner,
                                                                  small_suite, tmp_path):
    prices = tmp_path / "prices.yaml"
    prices.write_text("cpu: 0.5\n")
    out = str(tmp_path / "run")
    session("--suite", small_suite, "--out", out, "--systems", "cpu/good", "--prices",
            str(prices), "--isolation", "none", "--no-progress")
    prices.write_text("cpu: 9.0\n")  # the run keeps the prices it started with
    code, _, err = session("--out", out, "--resume", "--no-progress")
    assert code == 0, err
    first, resumed = fake_runner.calls
    assert resumed.config.name == "small" and resumed.resume is True
    assert {s.system_id for s in resumed.plan.systems} == {"cpu/good", "cpu/dense"}
    assert resumed.prices == {"cpu": 0.5} and resumed.isolation == "none"
    segments = json.loads(Path(out, "run.json").read_text())["segments"]
    assert [s["resume"] for s in segments] == [False, True]


@pytest.mark.parametrize("change, args, message", [
    ("none", ["--suite", "OTHER"],
     "--resume: --suite *other.yaml is not this run's suite (*suite.yaml); omit it to "
     "continue the run as it started, or pass --force-resume"),
    ("none", ["--systems", "cpu/boom"],
     "--resume: --systems cpu/boom differs from this run's (none); omit it *"),
    ("suite", [],
     "--resume: suite *suite.yaml changed since the run started (config hash *, now *); "
     "restore it, or pass --force-resume to continue with the changed suite"),
    ("machine", [],
     "--resume: this run was started on another machine (cpu_model 'Abacus 9000' then, * "
     "here); timings would not compare: choose another --out, or pass --force-resume"),
])
def test_resume_refuses_what_would_mix_runs_unless_forced(session, fake_runner, small_suite,
                                                          write_suite, tmp_path, change, args,
                                                          message):
    out = tmp_path / "run"
    other = str(write_suite(SMALL_SUITE.replace("name: small", "name: other"), "other.yaml"))
    args = [other if arg == "OTHER" else arg for arg in args]
    session("--suite", small_suite, "--out", str(out), "--no-progress")
    if change == "suite":
        Path(small_suite).write_text(SMALL_SUITE.replace("[3, 4]", "[3, 4, 5]"))
    if change == "machine":
        run = json.loads((out / "run.json").read_text())
        run["machine"]["cpu_model"] = "Abacus 9000"
        (out / "run.json").write_text(json.dumps(run))
    code, _, err = session("--out", str(out), "--resume", *args, "--no-progress")
    assert code == 2
    assert_lines(one_line(err), ["run-suite: error: " + message])
    code, _, err = session("--out", str(out), "--resume", "--force-resume", *args,
                           "--no-progress")
    assert code == 0, err
    assert len(fake_runner.calls) == 2
    segments = json.loads((out / "run.json").read_text())["segments"]
    assert segments[-1]["forced"] is True
    code, _, err = session("--out", str(out), "--resume", "--no-progress")
    assert code == 0, err  # forced once, the run goes on as it was continued


def test_a_forced_resume_continues_with_what_the_command_line_gives(session, fake_runner,
                                                                    small_suite, tmp_path):
    out = str(tmp_path / "run")
    session("--suite", small_suite, "--out", out, "--no-progress")
    session("--out", out, "--resume", "--force-resume", "--systems", "cpu/good",
            "--no-progress")
    assert {s.system_id for s in fake_runner.calls[-1].plan.systems} == {"cpu/good", "cpu/dense"}
    code, _, err = session("--out", out, "--resume", "--no-progress")  # the run's new settings
    assert code == 0, err
    assert json.loads(Path(out, "run.json").read_text())["systems"] == ["cpu/good"]


def test_a_run_dir_from_before_run_json_resumes_with_a_note(session, fake_runner, small_suite,
                                                            tmp_path):
    out = tmp_path / "old-run"
    out.mkdir()
    (out / "records.jsonl").write_text('{"status": "ok"}\n')
    code, _, err = session("--suite", small_suite, "--out", str(out), "--resume",
                           "--no-progress")
    assert code == 0, err
    assert one_line(err) == (f"run-suite: note: {out} has no run.json (an older run-suite made "
                             "it); resuming with this command's --suite, --only and --systems")
    assert fake_runner.calls[0].resume is True
    assert json.loads((out / "run.json").read_text())["segments"][0]["resume"] is True


def test_a_fresh_run_refuses_a_directory_that_holds_a_run(session, fake_runner, small_suite,
                                                          tmp_path):
    out = tmp_path / "run"
    session("--suite", small_suite, "--out", str(out), "--no-progress")
    code, _, err = session("--suite", small_suite, "--out", str(out), "--no-progress")
    assert code == 2
    assert one_line(err) == (f"run-suite: error: --out {out} already holds a run; continue it "
                             "with --resume, or choose another --out")
    assert len(fake_runner.calls) == 1


def test_force_resume_without_resume_is_one_line(session, small_suite):
    code, _, err = session("--suite", small_suite, "--force-resume")
    assert code == 2
    assert one_line(err) == ("run-suite: error: --force-resume: given without --resume; "
                             "allowed only with --resume")
