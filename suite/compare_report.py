"""The markdown a ``run-suite compare`` prints: fit for a pull-request comment.

A verdict line (PASS / FAIL and how many regressions), the two runs (suite, commit,
machine, noise verdict), the rules applied, then tables: regressions, improvements, the
largest changes within noise, and what could not be compared. Strings from records are
escaped for markdown tables (``|`` and newlines). Main entry:
``comparison_markdown(result, base_dir, new_dir, base_env, new_env, rules) -> str``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from suite.compare import Change, Comparison

WITHIN_NOISE_SHOWN = 10


def comparison_markdown(result: Comparison, base_dir: Path, new_dir: Path,
                        base_env: dict[str, Any], new_env: dict[str, Any],
                        rules: str) -> str:
    regressions = result.regressions
    head = (f"FAIL: {len(regressions)} regression(s)" if regressions
            else "PASS: no regression")
    out = [f"## SparseCAP regression check: {head}", ""] + _noisy_line(result) + [
           _run_line("base", base_dir, base_env), _run_line("new", new_dir, new_env), "",
           rules, ""]
    out += _table("Regressions", regressions)
    out += _table("Improvements", result.improvements)
    same = [c for c in result.changes if c.verdict == "same" and c.kind == "speedup"]
    same.sort(key=lambda c: abs(c.change), reverse=True)
    speed = sum(c.kind == "speedup" for c in result.changes)
    out += [f"{len(same)} of {speed} speedups unchanged within noise or threshold; "
            f"accuracy compared on {sum(c.kind == 'accuracy' for c in result.changes)} "
            "metric values.", ""]
    out += _table(f"Largest changes within noise (top {WITHIN_NOISE_SHOWN})",
                  same[:WITHIN_NOISE_SHOWN])
    out += _missing(result)
    return "\n".join(out)


def _noisy_line(result: Comparison) -> list[str]:
    """How much of the verdict rests on rows measured while the machine was noisy."""
    speed = [c for c in result.changes if c.kind == "speedup"]
    noisy = [c for c in speed if "INVALID" in c.note]
    if not noisy:
        return []
    return [f"**{len(noisy)} of {len(speed)} speedups were measured while the machine was "
            "too noisy (INVALID rows): a change smaller than their noise cannot be seen; "
            "re-run on a quieter machine to be sure.**", ""]


def _run_line(which: str, path: Path, env: dict[str, Any]) -> str:
    commit = str(env.get("git_commit") or "?")[:12]
    suite = (env.get("suite") or {}).get("name", "?")
    cpu = next((d.get("cpu_model") for d in (env.get("devices") or {}).values()
                if isinstance(d, dict) and d.get("cpu_model")), "?")
    noise = (env.get("noise") or {}).get("verdict", "not recorded")
    return (f"- {which}: `{cell(str(path))}`: suite {cell(suite)}, commit `{commit}`, "
            f"{cell(str(cpu))} x {env.get('logical_cores', '?')}, run verdict {noise}")


def _table(title: str, changes: list[Change]) -> list[str]:
    if not changes:
        return []
    lines = [f"### {title}", "",
             "| family | instance | system | metric | base | new | change | threshold "
             "| p (MW) | re-measured | note |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for c in changes:
        lines.append(" | ".join([
            f"| {cell(c.family)}", cell(c.instance), f"`{cell(c.system)}`", cell(c.metric),
            _value(c.base, c.kind), _value(c.new, c.kind), _percent(c.change),
            f"{c.threshold:.0%}", "-" if c.p_value is None else f"{c.p_value:.2g}",
            ", ".join(_value(v, c.kind) for v in c.remeasured) or "-",
            cell(c.note)]) + " |")
    return lines + [""]


def _missing(result: Comparison) -> list[str]:
    out = []
    if result.only_base:
        out += [f"Rows ok in the base run but absent from the new one: "
                f"{len(result.only_base)} (e.g. `{cell(result.only_base[0][1])}` on "
                f"{cell(result.only_base[0][0])})."]
    if result.only_new:
        out += [f"Rows new in this run (no base to compare): {len(result.only_new)}."]
    for instance, system, why in result.not_compared[:10]:
        out += [f"- not compared: `{cell(system)}` on {cell(instance)}: {cell(why)}"]
    return out + [""] if out else []


def cell(text: str) -> str:
    """A string safe inside a markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _value(value: float | None, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3g}x" if kind == "speedup" else f"{value:.3g}"


def _percent(value: float) -> str:
    return f"{value:+.1%}" if value else "0%"
