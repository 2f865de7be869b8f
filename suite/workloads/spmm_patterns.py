"""Sparsity patterns of the SpMM family and the masks that realise them.

``parse_pattern("2:4")`` / ``parse_pattern("nm(2,4)")`` / ``"unstructured(0.1)"`` /
``"block(4,0.25)"`` / ``"dense"`` -> ``Pattern``; ``make_mask(weight, pattern, how, rng)``
keeps the weights a pruner would (``magnitude``) or a random set (``random``).
N:M groups run along K, the reduction dimension, as on sparse tensor cores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from suite.errors import ParamError

PATTERN_HELP = ("dense | unstructured(DENSITY) | nm(N,M) or N:M with 1<=N<=M<=256 | "
                "block(SIZE,DENSITY); DENSITY in (0, 1]")
MASK_METHODS = ("magnitude", "random")


@dataclass(frozen=True)
class Pattern:
    """``kind`` is dense, unstructured, nm or block; ``density`` = non-zero fraction."""

    kind: str
    density: float = 1.0
    n: int = 0
    m: int = 0
    block: int = 0

    @property
    def label(self) -> str:
        if self.kind == "dense":
            return "dense"
        if self.kind == "nm":
            return f"{self.n}:{self.m}"
        if self.kind == "block":
            return f"block({self.block},{self.density:g})"
        return f"unstructured({self.density:g})"


_CALL = re.compile(r"^\s*(\w+)\s*\(([^)]*)\)\s*$")
_NM = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")


def parse_pattern(text: object, field: str = "pattern") -> Pattern:
    """Parse a pattern string; anything else is a ``ParamError`` naming ``field``."""
    if not isinstance(text, str):
        raise ParamError(field, text, PATTERN_HELP)
    if text.strip() == "dense":
        return Pattern("dense")
    nm = _NM.match(text)
    if nm:
        return _nm(int(nm.group(1)), int(nm.group(2)), text, field)
    call = _CALL.match(text)
    if not call:
        raise ParamError(field, text, PATTERN_HELP)
    name, args = call.group(1), [a.strip() for a in call.group(2).split(",") if a.strip()]
    try:
        if name == "unstructured" and len(args) == 1:
            return Pattern("unstructured", _density(float(args[0]), text, field))
        if name == "nm" and len(args) == 2:
            return _nm(int(args[0]), int(args[1]), text, field)
        if name == "block" and len(args) == 2:
            size = int(args[0])
            if size < 1:
                raise ParamError(field, text, "block SIZE >= 1")
            return Pattern("block", _density(float(args[1]), text, field), block=size)
    except ValueError:
        pass
    raise ParamError(field, text, PATTERN_HELP)


def _nm(n: int, m: int, text: str, field: str) -> Pattern:
    if not 1 <= n <= m <= 256:
        raise ParamError(field, text, "N:M with 1 <= N <= M <= 256")
    return Pattern("nm", n / m, n=n, m=m)


def _density(value: float, text: str, field: str) -> float:
    if not 0.0 < value <= 1.0:
        raise ParamError(field, text, "DENSITY in (0, 1]")
    return value


def make_mask(weight: np.ndarray, pattern: Pattern, how: str,
              rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of kept weights. ``how``: magnitude (largest |w|) or random."""
    score = np.abs(weight) if how == "magnitude" else rng.random(weight.shape)
    if pattern.kind == "dense":
        return np.ones(weight.shape, dtype=bool)
    if pattern.kind == "unstructured":
        return _top_fraction(score, pattern.density)
    if pattern.kind == "nm":
        return _nm_mask(score, pattern.n, pattern.m)
    return _block_mask(score, pattern.block, pattern.density)


def _top_fraction(score: np.ndarray, density: float) -> np.ndarray:
    keep = int(round(density * score.size))
    mask = np.zeros(score.size, dtype=bool)
    if keep:
        mask[np.argpartition(score.ravel(), score.size - keep)[score.size - keep:]] = True
    return mask.reshape(score.shape)


def _nm_mask(score: np.ndarray, n: int, m: int) -> np.ndarray:
    """Keep the n best of every m consecutive weights along K; a ragged tail group of
    length t keeps min(n, t), so the matrix still satisfies N:M with zero padding."""
    rows, k = score.shape
    padded_k = -(-k // m) * m
    padded = np.full((rows, padded_k), -np.inf)
    padded[:, :k] = score
    groups = padded.reshape(rows, padded_k // m, m)
    order = np.argsort(-groups, axis=2, kind="stable")[:, :, :n]
    mask = np.zeros_like(groups, dtype=bool)
    np.put_along_axis(mask, order, True, axis=2)
    return mask.reshape(rows, padded_k)[:, :k]


def _block_mask(score: np.ndarray, size: int, density: float) -> np.ndarray:
    rows, k = score.shape
    br, bk = -(-rows // size), -(-k // size)
    padded = np.zeros((br * size, bk * size))
    padded[:rows, :k] = score
    block_score = padded.reshape(br, size, bk, size).sum(axis=(1, 3))
    keep = _top_fraction(block_score, density)
    return np.kron(keep, np.ones((size, size), dtype=bool))[:rows, :k].astype(bool)

