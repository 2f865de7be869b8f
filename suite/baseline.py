"""Committed baselines for CI: ``results/baselines/<machine-class>/<suite>/``.

A machine class names what makes same-run speedups comparable across machines: the CPU
model and its logical cores (and the GPU, where a run had one), e.g.
``intel-xeon-processor-2cpu``. ``save(run_dir)`` copies a run's ``records.jsonl``,
``env.json`` and ``run.json`` there (a run directory ``run-suite report`` and ``compare``
read as any other); ``find(new_run)`` is the baseline a new run is gated against.
Main entries: ``machine_class(env)``, ``save``, ``find``, ``listing``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from suite.errors import UserError

ROOT = Path("results") / "baselines"
FILES = ("records.jsonl", "env.json", "run.json")


def machine_class(env: dict[str, Any]) -> str:
    """``intel-xeon-processor-2cpu`` (+ ``-nvidia-h100`` where a GPU ran) from ``env.json``."""
    devices = env.get("devices") or {}
    cpu = next((d.get("cpu_model") for d in devices.values()
                if isinstance(d, dict) and d.get("cpu_model")), None) or "cpu"
    cores = env.get("logical_cores") or next(
        (d.get("logical_cores") for d in devices.values() if isinstance(d, dict)
         and d.get("logical_cores")), "?")
    parts = [_slug(cpu), f"{cores}cpu"]
    gpus = sorted({str(d["gpu"]) for d in devices.values() if isinstance(d, dict)
                   and d.get("gpu")})
    parts += [_slug(g) for g in gpus]
    return "-".join(p for p in parts if p)


def _slug(text: str) -> str:
    text = re.sub(r"\((r|tm)\)|\bcpu\b|@.*$", " ", text.lower())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def read_env(run_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((run_dir / "env.json").read_text())
    except (OSError, ValueError):
        raise UserError(f"{run_dir}: no readable env.json; is it a run directory?") from None
    return data if isinstance(data, dict) else {}


def save(run_dir: Path, root: Path = ROOT, name: str | None = None,
         force: bool = False) -> Path:
    """Copy the run's records and environment to ``root/<class>/<suite>/``; returns it.

    A run whose noise verdict is ``noisy`` is refused unless ``force``: every later run is
    judged against the baseline, so a baseline measured in a slow moment fails or hides
    changes in all of them.
    """
    if not (run_dir / "records.jsonl").is_file():
        raise UserError(f"{run_dir}: no records.jsonl here; is it a run directory?")
    env = read_env(run_dir)
    noise = env.get("noise") or {}
    if noise.get("verdict") == "noisy" and not force:
        raise UserError(f"{run_dir}: the run's verdict is noisy ("
                        + "; ".join(noise.get("reasons") or []) + "); record the baseline "
                        "on a quiet machine, or pass --force")
    suite = (env.get("suite") or {}).get("name") or "suite"
    target = root / (name or machine_class(env)) / _slug(suite)
    target.mkdir(parents=True, exist_ok=True)
    for file in FILES:
        if (run_dir / file).is_file():
            shutil.copyfile(run_dir / file, target / file)
    return target


def find(new_run: Path, root: Path = ROOT) -> Path:
    """The baseline for a run: same machine class, same suite; a one-line error if none."""
    env = read_env(new_run)
    suite = _slug((env.get("suite") or {}).get("name") or "suite")
    target = root / machine_class(env) / suite
    if not (target / "records.jsonl").is_file():
        known = ", ".join(str(p.parent.relative_to(root)) for p in
                          sorted(root.glob("*/*/records.jsonl"))) or "none"
        raise UserError(f"no baseline for {target.relative_to(root)} under {root}; "
                        f"saved: {known}; make one with: run-suite baseline save RUN_DIR")
    return target


def listing(root: Path = ROOT) -> list[dict[str, Any]]:
    """Every saved baseline: class, suite, commit, when and how many rows."""
    out = []
    for records in sorted(root.glob("*/*/records.jsonl")):
        env = read_env(records.parent)
        out.append({"class": records.parent.parent.name, "suite": records.parent.name,
                    "commit": str(env.get("git_commit", ""))[:12],
                    "started": env.get("started", ""),
                    "rows": sum(1 for line in records.read_text().splitlines() if line)})
    return out
