"""Shared pieces of families' output checks: shape and finiteness first, then relative error.

Main entries: ``as_checked_float64(output, reference) -> (array, None) | (None, Check)`` and
``rel_error(output, reference)`` (relative Frobenius error; absolute when the reference is 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from suite.workload import Check


def as_checked_float64(output: Any, reference: np.ndarray) -> tuple[np.ndarray | None,
                                                                    Check | None]:
    """The output as float64, or a failing Check when its shape or values are unusable."""
    out = np.asarray(output)
    if out.shape != reference.shape:
        return None, Check(False, {}, {"shape": [list(out.shape), list(reference.shape)]},
                           f"output shape {out.shape} != reference {reference.shape}")
    out64 = out.astype(np.float64)
    if not np.all(np.isfinite(out64)):
        return None, Check(False, {}, {"finite": False}, "output has NaN or Inf")
    return out64, None


def rel_error(output: np.ndarray, reference: np.ndarray) -> float:
    scale = float(np.linalg.norm(reference))
    diff = float(np.linalg.norm(output - reference))
    return diff / scale if scale > 0 else diff
