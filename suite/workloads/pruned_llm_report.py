"""The pruned-LLM family's report: a quality table, speed tables and a quality-vs-speedup plot.

``write_report(frame, out_dir)`` (the family's ``plot`` hook, so ``run-suite`` and
``run-suite report`` both make it) writes ``pruned-llm_table.md``: one row per pruned model
(density, perplexity, its ratio to dense, cloze accuracy, pruning seconds), then per phase
one row per pruned model with each backend's end-to-end tokens/s and speedup over dense on
the same weights, measured CPU backends and simulated arrays side by side; prints it (the
harness console has no per-family table); and draws ``pruned-llm_quality_vs_speedup.png``.
``quality_rows(frame)`` / ``speed_rows(frame)`` give the tables as lists of dicts.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

TABLE = "pruned-llm_table.md"
PLOT = "pruned-llm_quality_vs_speedup.png"
MODEL_KEYS = ("model", "method", "pattern")
NOISY_MARK = "*"


def _ok(frame: pd.DataFrame) -> pd.DataFrame:
    ok = frame[(frame.status == "ok") & (frame.family == "pruned-llm")].copy()
    for key in (*MODEL_KEYS, "phase"):
        ok[key] = ok.params.apply(lambda p, k=key: str(p.get(k, "")))
    return ok


def quality_rows(frame: pd.DataFrame) -> list[dict]:
    """One dict per pruned model: its quality as the rows recorded it."""
    rows = []
    for key, part in _ok(frame).groupby(list(MODEL_KEYS), sort=False):
        acc, extra = part.accuracy.iloc[0] or {}, part.extra.iloc[0] or {}
        rows.append({**dict(zip(MODEL_KEYS, key, strict=True)),
                     "density": extra.get("density"), "perplexity": acc.get("perplexity"),
                     "ppl_ratio": acc.get("ppl_ratio"), "cloze_acc": acc.get("cloze_acc"),
                     "prune_s": extra.get("prune_s"), "pruned_from": extra.get("pruned_from")})
    return rows


def speed_rows(frame: pd.DataFrame) -> dict[str, list[dict]]:
    """phase -> one dict per pruned model: ``system -> (tokens/s or None, speedup, noisy)``
    (``noisy``: the row's verdict is INVALID, e.g. other processes took the CPU)."""
    out: dict[str, list[dict]] = {}
    ok = _ok(frame)
    for phase, by_phase in ok.groupby("phase", sort=False):
        rows = []
        for key, part in by_phase.groupby(list(MODEL_KEYS), sort=False):
            cells = {r.system: (None if r.device_kind == "sim" else r.throughput_units_per_s,
                                r.speedup, _noisy(r)) for r in part.itertuples()}
            rows.append({**dict(zip(MODEL_KEYS, key, strict=True)), "cells": cells,
                         "ppl_ratio": (part.accuracy.iloc[0] or {}).get("ppl_ratio")})
        out[phase] = rows
    return out


def markdown(frame: pd.DataFrame) -> str:
    lines = ["# pruned-llm", "", "## Quality (one pruned model per row)", "",
             "| model | method | pattern | density | perplexity | vs dense | cloze acc | "
             "prune s |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in quality_rows(frame):
        lines.append(f"| {_short(r['model'])} | {r['method']} | {r['pattern']} | "
                     f"{_f(r['density'], '.3f')} | {_f(r['perplexity'], '.1f')} | "
                     f"{_f(r['ppl_ratio'], '.2f')}x | {_f(r['cloze_acc'], '.2f')} | "
                     f"{_f(r['prune_s'], '.0f')} |")
    for phase, rows in speed_rows(frame).items():
        systems = sorted({s for r in rows for s in r["cells"]
                          if not (s.startswith("sim:") and s.endswith("/dense"))},
                         key=_system_order)
        lines += ["", f"## Speed, {phase}: tokens/s (speedup over dense on the same "
                  "weights; sim: simulated speedup over the same array run dense)", "",
                  "| method | pattern | vs dense ppl | " + " | ".join(systems) + " |",
                  "|---|---|---:|" + "---:|" * len(systems)]
        for r in rows:
            cells = [_cell(r["cells"].get(s)) for s in systems]
            lines.append(f"| {r['method']} | {r['pattern']} | {_f(r['ppl_ratio'], '.2f')}x | "
                         + " | ".join(cells) + " |")
    if any(c[2] for rows in speed_rows(frame).values() for r in rows
           for c in r["cells"].values()):
        lines += ["", f"{NOISY_MARK} INVALID row (noisy machine or wide spread; its "
                  "`verdict_reasons` say which): shown, not to be trusted"]
    return "\n".join(lines) + "\n"


def write_report(frame: pd.DataFrame, out_dir: Path) -> list[Path]:
    text = markdown(frame)
    path = Path(out_dir) / TABLE
    path.write_text(text)
    print(text)
    return [path, *_plot(frame, Path(out_dir))]


def _plot(frame: pd.DataFrame, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter, NullFormatter

    ok = _ok(frame)
    ok = ok[~ok.is_baseline.astype(bool) & ok.speedup.notna()]
    ok["ppl_ratio"] = ok.accuracy.apply(lambda a: (a or {}).get("ppl_ratio"))
    ok = ok.dropna(subset=["ppl_ratio"])
    if ok.empty:
        return []
    phases = list(dict.fromkeys(ok.phase))
    fig, axes = plt.subplots(1, len(phases), squeeze=False, figsize=(4.6 * len(phases), 4.2))
    colors = {s: f"C{i % 10}" for i, s in enumerate(sorted(ok.system.unique()))}
    markers = dict(zip(sorted(ok.method.unique()), "os^Dv", strict=False))
    for ax, phase in zip(axes[0], phases, strict=True):
        for r in ok[ok.phase == phase].itertuples():
            sim = r.device_kind == "sim"
            ax.scatter(r.speedup, r.ppl_ratio, marker=markers.get(r.method, "o"), s=46,
                       facecolors="none" if sim else colors[r.system],
                       edgecolors=colors[r.system])
            ax.annotate(r.pattern, (r.speedup, r.ppl_ratio), fontsize=6, alpha=0.7)
        ax.set(xscale="log", yscale="log", title=phase, xlabel="speedup over dense (x, log)")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_minor_formatter(NullFormatter())
            axis.set_major_formatter(FormatStrFormatter("%g"))
        ax.axvline(1.0, color="grey", lw=0.6)
    axes[0][0].set_ylabel("perplexity / dense perplexity (log; lower is better)")
    handles = [plt.Line2D([], [], ls="", marker="o", color=c, label=s) for s, c in colors.items()]
    handles += [plt.Line2D([], [], ls="", marker=m, color="k", label=k) for k, m in markers.items()]
    fig.legend(handles=handles, fontsize=7, loc="center right")
    fig.suptitle("pruned-llm: quality lost vs speed bought (hollow: simulated)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.8, 0.94))
    path = out_dir / PLOT
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return [path]


def _system_order(system: str) -> tuple:
    device, _, kernel = system.rpartition("/")
    return (device.startswith("sim:"), device, kernel != "dense", kernel)


def _cell(value) -> str:
    if value is None:
        return "-"
    rate, speedup, noisy = value
    head = f"{rate:.3g} " if rate is not None and rate == rate else ""
    return f"{head}({_f(speedup, '.2f')}x){NOISY_MARK if noisy else ''}"


def _noisy(row) -> bool:
    return row.device_kind != "sim" and str(getattr(row, "verdict", "")) == "INVALID"


def _f(value, spec: str) -> str:
    return "-" if value is None or value != value else format(value, spec)


def _short(model: str) -> str:
    return model if model == "smollm2" else model.rstrip("/").rsplit("/", 1)[-1]
