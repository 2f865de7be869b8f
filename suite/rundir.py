"""The run directory: checked before anything runs, one writer at a time, and its ``run.json``.

``claim(out_dir)`` makes the directory, proves it writable and holds an advisory lock on
``DIR/.lock`` (pid and start time inside) until the run ends, so a second run or
``--resume`` on the same directory gets one line instead of interleaved records.
``run.json`` is written when a run starts: the suite (name, source, its YAML text, config
hash), ``--only``, ``--systems``, ``--prices`` (path and content), the isolation, the
machine's fingerprint, the start time and one segment per start or resume. ``--resume``
continues the run's own suite and settings from it (``resume_setup``) and refuses, in one
line, a different ``--suite``, filter or price file, a suite file changed since, or another
machine, unless forced. Main entries: ``claim``, ``fresh_setup``, ``start_run``,
``read_manifest``, ``resume_setup``, ``add_segment``, ``finish_segment``.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import tempfile
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from suite.config import SuiteConfig, load_suite, parse_suite
from suite.devices import cpu_model
from suite.environment import now_iso
from suite.errors import UserError

RUN_FILE = "run.json"
LOCK_FILE = ".lock"
RECORDS_FILE = "records.jsonl"
MANIFEST_VERSION = 1
ISOLATIONS = ("process", "none")
FORCE_HINT = "or pass --force-resume"


@dataclass(frozen=True)
class RunRequest:
    """What the command line asked for; None where a flag was not given."""

    suite: str | None = None
    only: list[str] | None = None
    systems: list[str] | None = None
    prices: str | None = None
    isolation: str | None = None


@dataclass(frozen=True)
class RunSetup:
    """What a run does: its suite, filters, price overrides and isolation."""

    config: SuiteConfig
    only: list[str] | None
    systems: list[str] | None
    prices: dict[str, float] | None
    isolation: str


@dataclass
class RunManifest:
    """``run.json``: the run's current settings, where it runs, and each start or resume."""

    suite: dict[str, Any]
    config_hash: str
    only: list[str] | None
    systems: list[str] | None
    prices: dict[str, Any] | None
    isolation: str
    machine: dict[str, Any]
    started_at: str
    segments: list[dict[str, Any]] = field(default_factory=list)
    schema_version: int = MANIFEST_VERSION

    def write(self, out_dir: Path) -> None:
        tmp = out_dir / f".{RUN_FILE}.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, out_dir / RUN_FILE)


class RunLock:
    """An advisory ``flock`` on ``DIR/.lock``, held from ``claim`` until the run ends."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        fd = os.open(self.out_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise UserError(f"--out {self.out_dir} is in use by another run-suite ({holder}); "
                            "wait for it or choose another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "started_at": now_iso()}).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc_info) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return f"pid {info['pid']} since {info['started_at']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"


def claim(out_dir: Path) -> RunLock:
    """Make ``out_dir``, prove it writable, and lock it (use as ``with claim(d): ...``)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out_dir).close()
    except OSError as exc:
        file = next((p for p in (out_dir, *out_dir.parents) if p.is_file()), None)
        reason = (exc.strerror or str(exc)) + (f" ({file} is a regular file)" if file else "")
        raise UserError(f"--out {out_dir}: cannot write a run directory there: "
                        f"{reason}") from None
    return RunLock(out_dir)


def machine_fingerprint() -> dict[str, Any]:
    """What must not change between a run and its resume: CPU model, cores, platform."""
    return {"cpu_model": cpu_model(), "logical_cores": os.cpu_count(),
            "platform": platform.platform()}


def fresh_setup(request: RunRequest, default_suite: str = "quick") -> RunSetup:
    """The setup of a new run from the command line (the suite is loaded and checked)."""
    from suite.prices import load_price_file

    config = load_suite(request.suite or default_suite)
    prices = load_price_file(request.prices) if request.prices else None
    return RunSetup(config, request.only, request.systems, prices,
                    request.isolation or ISOLATIONS[0])


def start_run(out_dir: Path, setup: RunSetup, request: RunRequest,
              resumed_v1: bool = False) -> RunManifest:
    """Write ``run.json`` for a new run; refuses a directory that already holds one."""
    if not resumed_v1 and _holds_run(out_dir):
        raise UserError(f"--out {out_dir} already holds a run; continue it with --resume, "
                        "or choose another --out")
    suite_arg = request.suite or setup.config.name
    manifest = RunManifest(
        suite=_suite_identity(suite_arg, setup.config), config_hash=setup.config.config_hash,
        only=setup.only, systems=setup.systems, prices=_prices_identity(request.prices),
        isolation=setup.isolation, machine=machine_fingerprint(), started_at=now_iso())
    add_segment(out_dir, manifest, resume=resumed_v1)
    return manifest


def _holds_run(out_dir: Path) -> bool:
    records = out_dir / RECORDS_FILE
    return (out_dir / RUN_FILE).exists() or (records.exists() and records.stat().st_size > 0)


def _suite_identity(argument: str, config: SuiteConfig) -> dict[str, Any]:
    path = Path(argument)
    is_file = path.suffix in (".yaml", ".yml") or path.exists()  # as load_suite decides
    text = path.read_text() if is_file else \
        (resources.files("suite") / "suites" / f"{argument}.yaml").read_text()
    return {"name": config.name, "source": config.source, "argument": argument,
            "path": str(path.resolve()) if is_file else None, "yaml": text}


def _prices_identity(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    return {"path": str(Path(path).resolve()), "content": Path(path).read_text()}


def read_manifest(out_dir: Path) -> RunManifest | None:
    """The run's ``run.json``, or None for a directory written before it existed (v1)."""
    path = out_dir / RUN_FILE
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text())
        return RunManifest(**raw)
    except (OSError, ValueError, TypeError) as exc:
        raise UserError(f"{path}: unreadable run description ({exc}); move it away to "
                        "resume as an older run, or choose another --out") from None


def resume_setup(manifest: RunManifest, request: RunRequest, force: bool) -> RunSetup:
    """The run's own setup; a flag that disagrees, a changed suite or machine is refused."""
    conflict = _first_conflict(manifest, request)
    if conflict and not force:
        raise UserError(f"--resume: {conflict}; omit it to continue the run as it started, "
                        + FORCE_HINT)
    _check_machine(manifest, force)
    if force and request.suite:
        config = load_suite(request.suite)
    else:
        config = _check_config(manifest, _current_config(manifest), force)
    own = RunSetup(config, manifest.only, manifest.systems, _stored_prices(manifest),
                   request.isolation or manifest.isolation)
    return _forced(own, request) if force else own


def _first_conflict(manifest: RunManifest, request: RunRequest) -> str | None:
    if request.suite and not _same_suite(request.suite, manifest.suite):
        return (f"--suite {request.suite} is not this run's suite "
                f"({manifest.suite['argument']})")
    for flag, given, own in (("--only", request.only, manifest.only),
                             ("--systems", request.systems, manifest.systems)):
        if given is not None and sorted(given) != sorted(own or []):
            return f"{flag} {','.join(given)} differs from this run's ({','.join(own or ['none'])})"
    if request.prices and not _same_prices(request.prices, manifest.prices):
        return f"--prices {request.prices} differs from this run's price file"
    return None


def _same_suite(argument: str, suite: dict[str, Any]) -> bool:
    if suite["path"] is None:
        return argument == suite["argument"]
    return Path(argument).resolve() == Path(suite["path"])


def _same_prices(path: str, stored: dict[str, Any] | None) -> bool:
    try:
        return stored is not None and Path(path).read_text() == stored["content"]
    except OSError as exc:
        raise UserError(f"--prices: cannot read {path!r}: {exc.strerror}") from None


def _check_machine(manifest: RunManifest, force: bool) -> None:
    here = machine_fingerprint()
    for key, then in manifest.machine.items():
        if here.get(key) != then and not force:
            raise UserError(f"--resume: this run was started on another machine ({key} "
                            f"{then!r} then, {here.get(key)!r} here); timings would not "
                            f"compare: choose another --out, {FORCE_HINT}")


def _current_config(manifest: RunManifest) -> SuiteConfig:
    suite = manifest.suite
    if suite["path"] and not Path(suite["path"]).is_file():  # gone: the copy kept here
        return parse_suite(suite["yaml"], suite["source"])
    return load_suite(suite["path"] or suite["argument"])


def _check_config(manifest: RunManifest, config: SuiteConfig, force: bool) -> SuiteConfig:
    if config.config_hash != manifest.config_hash and not force:
        raise UserError(f"--resume: suite {config.source} changed since the run started "
                        f"(config hash {manifest.config_hash}, now {config.config_hash}); "
                        f"restore it, {FORCE_HINT} to continue with the changed suite")
    return config


def _stored_prices(manifest: RunManifest) -> dict[str, float] | None:
    if manifest.prices is None:
        return None  # validated when the run started
    return {str(k): float(v) for k, v in yaml.safe_load(manifest.prices["content"]).items()}


def _forced(own: RunSetup, request: RunRequest) -> RunSetup:
    """--force-resume: what the command line gives wins over the run's own settings."""
    from suite.prices import load_price_file

    prices = load_price_file(request.prices) if request.prices else own.prices
    return RunSetup(own.config, request.only if request.only is not None else own.only,
                    request.systems if request.systems is not None else own.systems,
                    prices, own.isolation)


def update_manifest(manifest: RunManifest, setup: RunSetup, request: RunRequest) -> None:
    """After a forced resume the run's settings are the ones it now continues with."""
    if request.suite or setup.config.config_hash != manifest.config_hash:
        suite = manifest.suite
        manifest.suite = _suite_identity(request.suite or suite["path"] or suite["argument"],
                                         setup.config)
        manifest.suite["argument"] = request.suite or suite["argument"]
    manifest.config_hash = setup.config.config_hash
    manifest.only, manifest.systems = setup.only, setup.systems
    manifest.machine = machine_fingerprint()
    if request.prices:
        manifest.prices = _prices_identity(request.prices)


def add_segment(out_dir: Path, manifest: RunManifest, resume: bool,
                forced: bool = False, isolation: str | None = None) -> None:
    """Record that this process starts (or resumes) the run, and write ``run.json``."""
    manifest.segments.append({
        "started_at": now_iso(), "pid": os.getpid(), "resume": resume, "forced": forced,
        "config_hash": manifest.config_hash, "only": manifest.only,
        "systems": manifest.systems, "isolation": isolation or manifest.isolation,
        "machine": machine_fingerprint()})
    manifest.write(out_dir)


def finish_segment(out_dir: Path, manifest: RunManifest, rows: int,
                   stopped: str | None) -> None:
    """Close this process's segment: when it ended, rows written, the signal if stopped."""
    manifest.segments[-1].update(ended_at=now_iso(), rows=rows, stopped=stopped)
    manifest.write(out_dir)
