"""Shared fixtures: the toy family (tests/toy_family.py) and a helper to write suites."""

from __future__ import annotations

from suite import threads

threads.apply()  # as run-suite does, before numpy loads BLAS: benchmarks time like the CLI

import textwrap  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

import tests.retrieval_family  # noqa: F401, E402  (a retrieval-shaped test family)
import tests.toy_family  # noqa: F401, E402  (registers the toy family for in-process tests)

TOY_SUITE = """
name: toy
defaults: {warmup: 1, min_repeats: 3, max_repeats: 5, min_time_s: 0.0}
workloads:
  - family: toy
    grid: {size: [5, 8]}
systems:
  - {device: cpu, kernel: good}
  - {device: cpu, kernel: wrong}
  - {device: cpu, kernel: boom}
  - {device: cpu, kernel: odd-only}
  - {device: cpu, kernel: needs-missing}
"""


@pytest.fixture
def write_suite(tmp_path: Path):
    """write_suite(text) -> path of a YAML file holding the dedented text."""

    def write(text: str, name: str = "suite.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return write
