"""Recall-vs-density curves of attention methods on each source, untimed:
``python -m kernels.attention.curves``.

For every (source, phase, method, budget) it builds the instance the suite would, runs
the method's CPU kernel on every layer's batch and keeps the family's metrics (recall,
density, output error; ``suite.workloads.attention_metrics``), so the synthetic generator
can be checked against SmolLM2 captures (the curves of one method should look alike)
without any timing noise. Writes ``curves.csv`` and ``recall_vs_density.png`` to
``--out``. Example (docs/attention.md):

    python -m kernels.attention.curves --length 2048 --sources synthetic,smollm2 \\
        --methods top-k,block-sparse,window --out results/attention-sources-2048
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from suite import registry
from suite.context import KernelContext
from suite.registry import make_device

BUDGETS = (0.03125, 0.0625, 0.125, 0.25)


def measure(source: str, phase: str, length: int, method: str, budget: float,
            layers: list[int], queries: int) -> list[dict]:
    """One row per layer: the method's accuracy metrics on that layer's batch."""
    params = {"phase": phase, "length": length, "budget": budget, "source": source,
              "layers": layers}
    if phase == "decode":
        params["queries"] = queries
    instance = registry.get_family("attention").instantiate(params, 0)
    inputs = instance.build_inputs()
    spec = registry.find_kernel("attention", method, "cpu")
    prepared = spec.prepare(instance, inputs, KernelContext(device=make_device("cpu")))
    rows = []
    for batch in instance.batches(inputs, len(layers)):
        output = prepared.run(prepared.put(batch))
        check = instance.check(output, instance.reference(inputs, batch), inputs, prepared,
                               batch=batch)
        rows.append({"source": source, "phase": phase, "length": length, "method": method,
                     "budget": budget, "layer": batch.layer, "valid": check.valid,
                     **check.accuracy})
    return rows


def plot(frame: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    phases = sorted(frame.phase.unique(), reverse=True)
    fig, axes = plt.subplots(1, len(phases), figsize=(7 * len(phases), 5), squeeze=False)
    mean = frame.groupby(["phase", "method", "source", "budget"], as_index=False)[
        ["recall", "density"]].mean()
    for ax, phase in zip(axes[0], phases, strict=True):
        for i, ((method, source), curve) in enumerate(
                mean[mean.phase == phase].groupby(["method", "source"])):
            curve = curve.sort_values("density")
            ax.plot(curve.density, curve.recall, marker="o", color=f"C{i // 2}",
                    linestyle="-" if source == "smollm2" else "--", label=f"{method} {source}")
        ax.set_xscale("log")
        ax.set_xlabel("achieved density")
        ax.set_ylabel("attention-mass recall (mean over layers)")
        ax.set_title(f"{phase}, L = {int(frame.length.iloc[0])}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=2048)
    parser.add_argument("--phases", default="prefill,decode")
    parser.add_argument("--sources", default="synthetic,smollm2")
    parser.add_argument("--methods", default="top-k,block-sparse,window")
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS)))
    parser.add_argument("--layers", default="3,14,25")
    parser.add_argument("--queries", type=int, default=16, help="decode queries per layer")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    registry.load_plugins()
    layers = [int(x) for x in args.layers.split(",")]
    rows = [row for source in args.sources.split(",") for phase in args.phases.split(",")
            for method in args.methods.split(",") for budget in args.budgets.split(",")
            for row in measure(source, phase, args.length, method, float(budget), layers,
                               args.queries)]
    args.out.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows)
    frame.to_csv(args.out / "curves.csv", index=False)
    plot(frame, args.out / "recall_vs_density.png")
    print(frame.groupby(["phase", "method", "source", "budget"])[
        ["recall", "density", "rel_error"]].mean().round(3).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
