"""Run ``pip download --no-deps`` for one pinned file, with a progress bar on a terminal.

pip draws its own bar only on a terminal, so on one ``run_pip_download`` runs pip in a
pseudo-terminal, reads the ``12.3/92.9 MB`` it prints and drives a rich bar from it
(pip's other chatter is kept for the error message); elsewhere (a log, CI, a worker) pip
runs quietly with its output captured. Main entry: ``run_pip_download(requirement, dest,
...) -> PipResult``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_PROGRESS = re.compile(r"(\d+(?:\.\d+)?)/(\d+(?:\.\d+)?) (kB|MB|GB)")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_UNIT_BYTES = {"kB": 1e3, "MB": 1e6, "GB": 1e9}


@dataclass(frozen=True)
class PipResult:
    """pip's exit status and everything it printed (ANSI codes removed)."""

    returncode: int
    output: str

    @property
    def reason(self) -> str:
        """pip's last ``ERROR:`` line (or its last line): why a download failed."""
        lines = [ln.strip() for ln in self.output.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("ERROR:")]
        chosen = errors[-1] if errors else (lines[-1] if lines else "pip printed nothing")
        return chosen.removeprefix("ERROR:").strip()


def pip_command(requirement: str, dest: Path, find_links: Path | None = None) -> list[str]:
    """The pip command line: no dependencies, no prompts, few retries (fails fast offline)."""
    args = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-input",
            "--disable-pip-version-check", "--retries", "1", "--timeout", "20",
            "-d", str(dest), requirement]
    if find_links is not None:
        args[4:4] = ["--no-index", "--find-links", str(find_links)]
    return args


def run_pip_download(requirement: str, dest: Path, *, label: str, total_bytes: int,
                     find_links: Path | None = None, show: bool | None = None) -> PipResult:
    """Download ``requirement`` into ``dest``; ``show`` (default: stderr is a terminal)
    draws the bar."""
    args = pip_command(requirement, dest, find_links)
    if show is None:
        show = sys.stderr.isatty()
    if not show or os.name != "posix":
        proc = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        return PipResult(proc.returncode, _ANSI.sub("", proc.stdout + proc.stderr))
    return _run_in_pty(args, label, total_bytes)


def _run_in_pty(args: list[str], label: str, total_bytes: int) -> PipResult:
    import pty

    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    chunks: list[str] = []
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(label, total=total_bytes)
        for text in _read_until_closed(master):
            chunks.append(text)
            done = _bytes_done(text)
            if done is not None:
                bar.update(task, completed=min(done, total_bytes))
        returncode = proc.wait()
        if returncode == 0:
            bar.update(task, completed=total_bytes)
    return PipResult(returncode, "".join(chunks))


def _read_until_closed(fd: int):
    """Decoded, ANSI-free chunks from a pty master until the child closes it."""
    try:
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the child's side closed
                return
            if not data:
                return
            yield _ANSI.sub("", data.decode("utf-8", "replace"))
    finally:
        os.close(fd)


def _bytes_done(text: str) -> float | None:
    """The last ``done/total unit`` pip printed in ``text``, in bytes."""
    found = _PROGRESS.findall(text)
    if not found:
        return None
    done, _, unit = found[-1]
    return float(done) * _UNIT_BYTES[unit]
