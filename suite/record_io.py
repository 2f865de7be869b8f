"""Reading and appending ``records.jsonl``: whole lines only, and one-line errors.

``RecordWriter`` appends a record per line, flushed and fsynced (a failed write is cut
back, so the file stays whole); ``read_records`` migrates every line to this schema and
names ``path:LINE`` for anything damaged (a torn last line, a killed write, is ignored).
Main entries: ``RecordWriter(path).append(record)``, ``read_records(path)``, ``done_keys(path)``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from pathlib import Path
from typing import Any

from suite.errors import UserError
from suite.records import STATUSES, RecordError, ResultRecord


class RecordWriter:
    """Appends records one line each; flushed and fsynced so a killed run loses nothing.

    A write that fails (disk full, read-only file system, no permission) raises a one-line
    ``UserError`` naming the file; the lines written before stay whole and readable.
    """

    def __init__(self, path: Path):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _drop_torn_tail(path)
        except OSError as exc:
            raise UserError(_write_error(path, exc)) from None

    def append(self, record: ResultRecord) -> None:
        if record.status not in STATUSES:
            raise ValueError(f"status {record.status!r}; allowed: {', '.join(STATUSES)}")
        try:
            _append_line(self.path, (record.to_json() + "\n").encode("utf-8"))
        except OSError as exc:
            raise UserError(_write_error(self.path, exc)) from None


def _append_line(path: Path, data: bytes) -> None:
    """One whole line or nothing: a failed write is cut back to where it started."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):  # else: a torn tail, ignored and cut later
                os.ftruncate(fd, start)
            raise
    finally:
        os.close(fd)


def _write_error(path: Path, exc: OSError) -> str:
    code = f" ({errno.errorcode[exc.errno]})" if exc.errno in errno.errorcode else ""
    return (f"{path}: cannot write records: {exc.strerror or exc}{code}; "
            "the records written before are kept")


def read_records(path: Path) -> list[ResultRecord]:
    """Every record of a file, migrated to this schema.

    A torn last line (no newline at the end and not JSON: a killed write) is ignored;
    a damaged line anywhere else, a newer schema, a missing field or a bad status raises
    ``UserError("path:LINE: what is wrong")``.
    """
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        torn_tail = number == len(lines)  # the last piece has no newline after it
        raw = _parse_line(path, number, line, torn_tail)
        if raw is None:
            continue
        try:
            out.append(ResultRecord.from_dict(raw))
        except RecordError as exc:
            raise UserError(f"{path}:{number}: {exc}") from None
    return out


def _parse_line(path: Path, number: int, line: bytes, torn_tail: bool) -> Any:
    try:
        return json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        if torn_tail:
            return None
        why = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
        raise UserError(f"{path}:{number}: not a JSON record ({why}); the file is damaged "
                        "here: repair or delete this line") from None


def done_keys(path: Path) -> set[tuple[str, str]]:
    """Rows a resumed run need not redo: any finished status (ok, failed or skipped)."""
    return {r.key for r in read_records(path)}


def _drop_torn_tail(path: Path) -> None:
    """A run killed mid-write leaves a partial last line: cut it before appending.

    A last line that is whole JSON but lacks its newline (an editor saved it) is kept and
    given its newline, so appending never loses a record ``read_records`` returns.
    """
    data = path.read_bytes() if path.exists() else b""
    if not data or data.endswith(b"\n"):
        return
    cut = data.rfind(b"\n") + 1
    try:
        json.loads(data[cut:].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        with open(path, "r+b") as fh:
            fh.truncate(cut)
        return
    with open(path, "ab") as fh:
        fh.write(b"\n")
