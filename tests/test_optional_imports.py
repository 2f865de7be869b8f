"""A missing optional library skips the rows that need it and never a family's baseline."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = textwrap.dedent("""
    import sys
    sys.modules["numba"] = None          # as if numba were not installed
    from suite import registry
    # kernels.attention is numba all the way down (its dense baseline is a numba kernel):
    # the one plug-in allowed to fall without numba, until its registrations import lazily.
    assert set(registry.broken_plugins()) <= {"kernels.attention"}, registry.broken_plugins()
    for family in ("spmm", "moe", "pruned-llm", "retrieval"):
        baseline = registry.get_family(family).baseline_kernel
        assert baseline in registry.kernel_names(family, "cpu"), family
    spec = registry.find_kernel("spmm", "nm-numba", "cpu")
    print("ok", spec is not None)
""")


def test_without_numba_every_family_keeps_its_dense_baseline():
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok True"
