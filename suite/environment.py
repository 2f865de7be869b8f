"""The environment fingerprint written to ``env.json``: machine, BLAS, versions, git, peaks.

Main entry: ``collect_environment(devices, config_hash) -> dict``; ``env_id`` hashes what
makes timings comparable (machine, libraries, BLAS, commit), so records from different
machines or builds are never mixed up silently.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from suite.devices import Device
from suite.workload import stable_hash

LIBRARIES = ("numpy", "scipy", "numba", "pandas", "sparsecap", "cupy-cuda12x",
             "cupy-cuda13x", "sparse-dot-mkl", "torch", "dask", "scalesim")


def git_commit(start: Path | None = None) -> str:
    """The commit of the checkout the code runs from ('' outside git), '+dirty' if modified."""
    where = start or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                             text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=where, capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    return f"{sha}+dirty" if sha and dirty.strip() else sha


def library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def blas_info() -> list[dict[str, Any]]:
    """Which BLAS/OpenMP libraries numpy and friends loaded, with their thread counts."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"error": "threadpoolctl not installed"}]
    import numpy  # noqa: F401  (load numpy's BLAS so it is listed)
    keep = ("user_api", "internal_api", "version", "num_threads", "architecture", "prefix")
    return [{k: info.get(k) for k in keep} for info in threadpool_info()]


def simd_info() -> dict[str, Any]:
    """The vector instruction set our CPU kernels run (``spmm_isa``, after any
    ``SPARSECAP_SPMM_ISA`` override) and the widest the CPU has, so a figure says which
    CPU kind (AVX-512 or AVX2-only) it comes from."""
    from kernels.spmm import isa
    try:
        chosen = isa.detect()
    except Exception as exc:  # noqa: BLE001  (a bad override is reported, not fatal here)
        chosen = f"invalid: {exc}"
    return {"spmm_isa": chosen, "spmm_isa_hardware": isa.hardware()}


def collect_environment(devices: list[Device], config_hash: str,
                        peaks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    env = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "hostname": platform.node(),
        "logical_cores": os.cpu_count(),
        "libraries": library_versions(),
        "blas": blas_info(),
        "devices": {d.name: d.describe() for d in devices},
        "git_commit": git_commit(),
        "config_hash": config_hash,
        **simd_info(),
        "thread_env": {name: os.environ.get(name) for name in (
            "OPENBLAS_THREAD_TIMEOUT", "OMP_WAIT_POLICY", "KMP_BLOCKTIME", "OMP_NUM_THREADS",
            "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER")},
    }
    stable = {k: env[k] for k in ("python", "platform", "hostname", "libraries",
                                  "devices", "git_commit")}
    env["env_id"] = stable_hash(stable)
    env["peaks"] = peaks
    env["started"] = now_iso()
    return env


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
