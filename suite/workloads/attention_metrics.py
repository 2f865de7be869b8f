"""The attention family's float64 reference and its accuracy metrics, on sampled query rows.

A reference is exact attention in float64 for the batch's sampled rows only (``sample``:
a few hundred query positions, every head), so checking a prefill of 32k tokens costs a
few hundred rows of float64 work, not L^2. Per sampled row it keeps the output and the
log-sum-exp of the scores; with them, a kernel's kept set gives:

* ``recall``: attention-mass recall, ``sum_{j kept} softmax(s)_j`` (1 for dense);
* ``rel_error``: ||out - ref|| / ||ref|| over the sampled rows (all heads);
* ``density``: kept (query, key) entries / causal entries, over every row (exact);
* ``layer_error``: the same relative error after the layer's output projection
  (``concat_heads(out) @ W_o^T``), where the source has one (SmolLM2);
* ``self_error``: the output against exact float64 attention restricted to the kept set
  (the kernel's own rule): the validity check, within ``TOLERANCE``; the kept set itself
  must be causal, without repeats, and within the kernel's declared cap.

Main entries: ``make_reference(batch, w_o)``, ``evaluate(out, kept, batch, ref, w_o)``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from suite.workloads.attention_batch import (
    AttentionBatch,
    RowKept,
    kept_mask,
    kept_problem,
    kept_total,
)

TOLERANCE = 2e-4  # float32 kernels: relative error vs float64 over the kept set


@dataclass(frozen=True)
class AttentionReference:
    """``out``: B x H x S x d and ``lse``: B x H x S (natural log) of the sampled rows;
    ``layer``: B x S x hidden (or None)."""

    out: np.ndarray
    lse: np.ndarray
    layer: np.ndarray | None


def _scores(batch: AttentionBatch, b: int, h: int) -> np.ndarray:
    """float64 scores (S x L) of head h's sampled rows; non-causal entries -inf."""
    rows = batch.sample
    q = batch.q[b, h, rows].astype(np.float64)
    k = batch.k[b, h // batch.group].astype(np.float64)
    s = q @ k.T / np.sqrt(q.shape[-1])
    causal = np.arange(k.shape[0])[None] <= batch.q_pos[rows][:, None]
    return np.where(causal, s, -np.inf)


def _softmax(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    top = np.max(s, axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.exp(s - top)
    total = e.sum(axis=1, keepdims=True)
    lse = (np.log(np.where(total > 0, total, 1.0)) + top)[:, 0]
    return e / np.where(total > 0, total, 1.0), lse


def project(out_rows: np.ndarray, w_o: np.ndarray) -> np.ndarray:
    """B x H x S x d -> B x S x hidden: heads concatenated, times W_o^T."""
    n_b, n_h, n_s, d = out_rows.shape
    return out_rows.transpose(0, 2, 1, 3).reshape(n_b, n_s, n_h * d) @ w_o.T


def single_thread_blas(fn):
    """Run ``fn`` with BLAS on one thread: these are many small products, and a shared
    machine makes OpenBLAS's thread hand-off cost 50x a small GEMM."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, user_api="blas"):
            return fn(*args, **kwargs)

    return wrapped


@single_thread_blas
def make_reference(batch: AttentionBatch, w_o: np.ndarray | None) -> AttentionReference:
    n_b, n_h = batch.q.shape[:2]
    out = np.zeros((n_b, n_h, len(batch.sample), batch.q.shape[-1]))
    lse = np.zeros((n_b, n_h, len(batch.sample)))
    for b in range(n_b):
        for h in range(n_h):
            p, lse[b, h] = _softmax(_scores(batch, b, h))
            out[b, h] = p @ batch.v[b, h // batch.group].astype(np.float64)
    layer = project(out, w_o.astype(np.float64)) if w_o is not None else None
    return AttentionReference(out, lse, layer)


def _kept_mask(kept, batch: AttentionBatch, b: int, h: int,
               cap: int | None) -> tuple[np.ndarray, str]:
    """S x L mask of head h's sampled rows, and a reason when the kept set is invalid:
    a key outside the row's causal range, a key recorded twice, more keys than ``cap``."""
    full = kept_mask(kept, batch, b, h)
    reason = kept_problem(kept, full, batch, h)
    mask = full[:, :batch.k.shape[2]]
    if not reason and isinstance(kept, RowKept):
        dupes = np.flatnonzero(mask.sum(axis=1) != kept.count[b, h])
        if dupes.size:
            reason = f"row {int(batch.sample[dupes[0]])} of head {h} keeps a key twice"
    if not reason and cap is not None:
        over = np.flatnonzero(mask.sum(axis=1) > cap)
        if over.size:
            reason = (f"row {int(batch.sample[over[0]])} of head {h} keeps "
                      f"{int(mask[over[0]].sum())} keys > its cap {cap}")
    return mask, reason


@dataclass(frozen=True)
class Evaluation:
    accuracy: dict[str, float]
    self_error: float
    reason: str = ""


@single_thread_blas
def evaluate(out: np.ndarray, kept, batch: AttentionBatch, ref: AttentionReference,
             w_o: np.ndarray | None, cap: int | None = None) -> Evaluation:
    """Metrics of one output on the sampled rows (module docstring)."""
    n_b, n_h = batch.q.shape[:2]
    rows = out[:, :, batch.sample].astype(np.float64)
    recall, own_err, own_norm = [], 0.0, 0.0
    for b in range(n_b):
        for h in range(n_h):
            mask, reason = _kept_mask(kept, batch, b, h, cap)
            if reason:
                return Evaluation({}, float("inf"), reason)
            s = _scores(batch, b, h)
            recall.append(np.where(mask, np.exp(s - ref.lse[b, h][:, None]), 0.0).sum(axis=1))
            p, _ = _softmax(np.where(mask, s, -np.inf))
            own = p @ batch.v[b, h // batch.group].astype(np.float64)
            own_err += float(np.sum((rows[b, h] - own) ** 2))
            own_norm += float(np.sum(own ** 2))
    accuracy = {"recall": float(np.mean(np.concatenate(recall))),
                "rel_error": _relative(rows, ref.out),
                "density": kept_total(kept, batch) / batch.causal_total}
    if w_o is not None and ref.layer is not None:
        accuracy["layer_error"] = _relative(project(rows, w_o.astype(np.float64)), ref.layer)
    return Evaluation(accuracy, float(np.sqrt(own_err / own_norm)) if own_norm else
                      float(np.sqrt(own_err)))


def _relative(value: np.ndarray, reference: np.ndarray) -> float:
    scale = float(np.linalg.norm(reference))
    diff = float(np.linalg.norm(value - reference))
    return diff / scale if scale > 0 else diff
