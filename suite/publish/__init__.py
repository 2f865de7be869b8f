"""``run-suite publish DIR... --out site/``: a static leaderboard site, no server, offline.

``site/index.html`` lists the runs (machine, suite, commit, verdict) and, with several,
compares their machines system by system; ``site/<run>/<family>.html`` is one family of
one run (``suite.publish.pages``), its plots copied beside it. Every string from a config
or a record is escaped; the script is inline and reads only the page. Main entry:
``publish(run_dirs, out_dir) -> Path`` (the index).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from suite.errors import UserError
from suite.publish.pages import Run, family_page, index_page, page_name, safe


def publish(run_dirs: list[Path], out_dir: Path) -> Path:
    runs = [load(path, slug) for path, slug in zip(run_dirs, _slugs(run_dirs), strict=True)]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for run in runs:
            (out_dir / run.slug).mkdir(exist_ok=True)
            for family in run.families:
                plots = _copy_plots(run, family, out_dir / run.slug)
                (out_dir / page_name(run, family)).write_text(
                    family_page(run, family, plots), encoding="utf-8")
        index = out_dir / "index.html"
        index.write_text(index_page(runs), encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--out {out_dir}: cannot write the site: {exc.strerror or exc}") \
            from None
    return index


def load(path: Path, slug: str) -> Run:
    from suite.report import load_run, run_env

    manifest = {}
    try:
        manifest = json.loads((path / "run.json").read_text())
    except (OSError, ValueError):
        pass
    return Run(path, slug, load_run(path), run_env(path), manifest if isinstance(
        manifest, dict) else {})


def _slugs(run_dirs: list[Path]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for path in run_dirs:
        base = safe(path.resolve().name)
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return out


def _copy_plots(run: Run, family: str, target: Path) -> list[str]:
    """The family's PNGs (drawn by ``run-suite report``, or now if missing), copied."""
    plots = sorted(run.path.glob(f"{family}_*.png"))
    if not plots:
        plots = _draw(run, family)
    names = []
    for plot in plots:
        shutil.copyfile(plot, target / safe(plot.name))
        names.append(safe(plot.name))
    return names


def _draw(run: Run, family: str) -> list[Path]:
    from suite.report import write_reports

    try:
        written = write_reports(run.path)
    except (OSError, UserError):
        return []
    return sorted(p for p in written if p.suffix == ".png" and p.name.startswith(f"{family}_"))
