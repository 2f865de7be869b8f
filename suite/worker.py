"""Run jobs in a worker process, so a kernel that hangs or crashes costs only its own rows.

The harness (parent) keeps the records file, the lock and the progress bar; a spawned
worker imports the plug-ins, builds inputs and runs ``JobExecutor``. Before each prepare,
validation and timing sample the worker writes the index of the row it is on, and the
time, into shared memory; the parent's watchdog kills the worker when one phase outlasts
``max_time_s`` (+ a grace period) and a dead worker (segfault, ``os._exit``) is noticed at
once. Either way the parent learns which row was running, fails that system's rows with
the reason, starts a fresh worker and resubmits the rest of the job.
Main entry: ``WorkerPool(context, modules).execute(job) -> Iterator[message]``.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import signal
import time
from collections.abc import Iterator

from suite.derive import RunContext
from suite.execute import Job, JobExecutor

GRACE_S = 5.0       # a phase may overrun max_time_s by this before the worker is killed
POLL_S = 0.05


class WorkerDied(Exception):
    """The worker stopped mid-job: ``row`` is (instance_id, system_id, device) or None."""

    def __init__(self, row: tuple[str, str, str] | None, reason: str):
        super().__init__(reason)
        self.row, self.reason = row, reason


def _worker_main(conn, row_index, since, context: RunContext, modules: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:
            pass  # the parent reported it already; its kernels' rows fail by name

    def on_phase(index: int) -> None:
        since.value = time.monotonic()
        row_index.value = index

    executor = JobExecutor(context, on_phase=on_phase)
    while True:
        job = conn.recv()
        if job is None:
            return
        try:
            for message in executor.execute(job):
                if message[0] == "rows":
                    row_index.value = -1
                conn.send(message)
        except Exception as exc:  # a harness bug: fail this job's rows, keep the worker
            from suite.measure import describe
            conn.send(("error", describe(exc)))
        conn.send(("done",))
        row_index.value, since.value = -1, time.monotonic()


class WorkerPool:
    """One worker process at a time, restarted after it dies or is killed."""

    def __init__(self, context: RunContext, modules: list[str]):
        self.context, self.modules = context, modules
        self._ctx = mp.get_context("spawn")
        self._proc = None

    def _start(self) -> None:
        self._row = self._ctx.Value("i", -1, lock=False)
        self._since = self._ctx.Value("d", time.monotonic(), lock=False)
        self._conn, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(
            target=_worker_main, args=(child, self._row, self._since, self.context,
                                       self.modules), daemon=True, name="sparsecap-worker")
        self._proc.start()
        child.close()

    def execute(self, job: Job) -> Iterator[tuple]:
        if self._proc is None or not self._proc.is_alive():
            self._start()
        self._conn.send(job)
        rows: list[tuple[str, str, str]] = []
        limit_s = job.settings.max_time_s + min(GRACE_S, job.settings.max_time_s)
        while True:
            message = self._receive(rows, limit_s)
            if message[0] == "done":
                return
            if message[0] == "rows":
                rows = message[1]
            yield message

    def _receive(self, rows, limit_s: float) -> tuple:
        while True:
            if self._conn.poll(POLL_S):
                try:
                    return self._conn.recv()
                except (EOFError, OSError):
                    pass  # the worker died mid-send: handled below
            if not self._proc.is_alive():
                raise WorkerDied(self._current(rows), self._death_reason())
            if self._row.value >= 0 and time.monotonic() - self._since.value > limit_s:
                row = self._current(rows)
                self.kill()
                raise WorkerDied(row, f"timeout: one call or prepare ran past {limit_s:g} s "
                                      "(max_time_s + grace); the worker was killed")

    def _current(self, rows) -> tuple[str, str, str] | None:
        index = self._row.value
        return rows[index] if 0 <= index < len(rows) else None

    def _death_reason(self) -> str:
        self._proc.join(1.0)
        code = self._proc.exitcode
        self._proc = None
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"crashed: the worker process died of {name}"
        return f"crashed: the worker process exited with code {code}"

    def kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(5.0)
            self._proc = None

    def close(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            try:
                self._conn.send(None)
                self._proc.join(5.0)
            except (BrokenPipeError, OSError):
                pass
            if self._proc.is_alive():
                self._proc.kill()
        self._proc = None
