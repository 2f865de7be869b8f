"""The retrieval family's report pieces: recall-vs-QPS Pareto plots and a cost-growth table.

``draw(frame, out_dir)`` writes, from the records alone:
- ``retrieval_pareto_<n>.png``: one figure per (collection, scenario, device), ann-benchmarks
  style: recall@10 on x, queries/s on a log y axis, one curve per kernel (its Pareto
  frontier over the option sets swept; every point marked);
- ``retrieval_cost_growth.md``: how cost grows with the generated collection's size, two
  tables with a column per ``docs`` value: per kernel, the fastest option set reaching
  recall@10 >= ``RECALL_TARGET`` (time per query, index bytes, build time; ``-`` where none
  reached it), then per system (one fixed option set, so a row compares like with like):
  time per query, index bytes and recall.
Main entries: ``draw``, ``pareto_points(part)``, ``cost_growth(frame)``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

RECALL_TARGET = 0.95


def pareto_points(part: pd.DataFrame) -> pd.DataFrame:
    """Per ok row: kernel, system, recall, queries/s, seconds per query, options."""
    ok = part[(part.status == "ok") & part.throughput_units_per_s.notna()]
    if ok.empty:
        return pd.DataFrame(columns=["kernel", "system", "recall", "qps", "s_per_query"])
    recall = ok.accuracy.apply(lambda a: a.get("recall@10") if isinstance(a, dict) else None)
    out = pd.DataFrame({"kernel": ok.kernel, "system": ok.system, "recall": recall,
                        "qps": ok.throughput_units_per_s,
                        "s_per_query": 1.0 / ok.throughput_units_per_s,
                        "bytes": ok.artifact_bytes, "build_s": ok.build_s,
                        "options": ok.options})
    return out.dropna(subset=["recall"])


def frontier(points: pd.DataFrame) -> pd.DataFrame:
    """The points no other point beats on both recall and QPS, by recall."""
    ordered = points.sort_values(["recall", "qps"], ascending=[False, False])
    keep, best = [], -1.0
    for index, row in ordered.iterrows():
        if row.qps > best:
            keep.append(index)
            best = row.qps
    return points.loc[keep].sort_values("recall")


def _figure(points: pd.DataFrame, title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 5))
    for kernel, group in points.groupby("kernel"):
        line = frontier(group)
        drawn = ax.plot(line.recall, line.qps, marker="o", label=kernel)[0]
        ax.scatter(group.recall, group.qps, s=12, color=drawn.get_color(), alpha=0.5)
    ax.set_yscale("log")
    ax.set_xlabel("recall@10 (vs exact float64 top-10)")
    ax.set_ylabel("queries per second")
    ax.axvline(RECALL_TARGET, color="grey", linestyle="--", linewidth=1)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def draw(frame: pd.DataFrame, out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    written = []
    keys = ["instance_label", "scenario", "device"]
    for n, ((label, scenario, device), part) in enumerate(frame.groupby(keys, sort=True)):
        points = pareto_points(part)
        if points.empty:
            continue
        name = re.sub(r"[^a-z0-9]+", "-", f"{label} {scenario}".lower()).strip("-")
        title = f"retrieval: {label}, {scenario}, {device}"
        written.append(_figure(points, title, out_dir / f"retrieval_pareto_{n}_{name}.png"))
    table = cost_growth(frame)
    if table:
        path = out_dir / "retrieval_cost_growth.md"
        path.write_text(table)
        written.append(path)
    return written


def cost_growth(frame: pd.DataFrame) -> str:
    """Markdown: per kernel the fastest row at recall >= target, then per system, by size."""
    rows = frame[frame.params.apply(lambda p: isinstance(p, dict)
                                    and p.get("collection") == "generated")]
    if rows.empty:
        return ""
    rows = rows.assign(docs=rows.params.apply(lambda p: int(p["docs"])))
    best: dict[tuple[str, str], dict[int, str]] = {}
    each: dict[tuple[str, str], dict[int, str]] = {}
    for (scenario, docs), part in rows.groupby(["scenario", "docs"]):
        points = pareto_points(part)
        for kernel, group in points[points.recall >= RECALL_TARGET].groupby("kernel"):
            top = group.sort_values("s_per_query").iloc[0]
            best.setdefault((scenario, kernel), {})[docs] = (
                f"{_ms(top)}, {_mb(top)}, {_build(top)} (r {top.recall:.3f})")
        for system, group in points.groupby("system"):
            top = group.sort_values("s_per_query").iloc[0]
            each.setdefault((scenario, system), {})[docs] = (
                f"{_ms(top)}, {_mb(top)} (r {top.recall:.3f})")
    sizes = sorted(rows.docs.unique())
    return (_table(f"Fastest option set at recall@10 >= {RECALL_TARGET}: time per query, "
                   "index bytes, build time (recall)", "kernel", best, sizes) + "\n"
            + _table("Per system (one option set each): time per query, index bytes (recall)",
                     "system", each, sizes))


def _table(title: str, what: str, cells: dict, sizes: list[int]) -> str:
    head = f"| scenario | {what} | " + " | ".join(f"{d:,} docs" for d in sizes) + " |"
    lines = [title, "", head, "|" + " --- |" * (len(sizes) + 2)]
    for (scenario, name), by_size in sorted(cells.items()):
        lines.append(f"| {scenario} | {name} | "
                     + " | ".join(by_size.get(int(d), "-") for d in sizes) + " |")
    return "\n".join(lines) + "\n"


def _ms(row) -> str:
    return f"{1e3 * row.s_per_query:.3g} ms"


def _mb(row) -> str:
    return f"{row.bytes / 1e6:,.0f} MB" if pd.notna(row.bytes) else "-"


def _build(row) -> str:
    return f"{row.build_s:.1f} s" if pd.notna(row.build_s) else "-"
