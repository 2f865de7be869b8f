"""A pruned model: made once per (model, method, pattern, calibration), kept on disk.

``PruneSpec`` names one pruned model; ``pruned_model(spec) -> PrunedModel`` gives it from
this process's memory (the last ``MEMO_SIZE`` asked for), else from the data layer's
derived-array cache (``suite.data.cache.derived``: a second run, or another process, loads
what the first pruned), else by pruning now (``kernels.pruning.sequential.prune_llama`` on
``calib_tokens`` tokens of the calibration split, in windows of ``CALIB_CONTEXT``).
``PrunedModel.source`` says which; ``prune_s`` is always the time the pruning itself took.
On disk: each layer's keep-mask as packed bits, plus the kept values for methods that
update weights (SparseGPT); ``PRUNE_VERSION`` is in the key: bump it when a method changes.
``method="dense"`` is the unpruned model (nothing stored). Cost of a load: reading ~13 MB
of masks (SmolLM2), ~200 MB more for SparseGPT at 50 %.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from kernels.pruning.sequential import block_linears, prune_llama

PRUNE_VERSION = "prune-1"
CALIB_CONTEXT = 512
UPDATES_WEIGHTS = ("sparsegpt",)
MEMO_SIZE = 2
_MEMO: OrderedDict[PruneSpec, PrunedModel] = OrderedDict()


@dataclass(frozen=True)
class PruneSpec:
    """One pruned model: checkpoint (``smollm2`` or a path), method, pattern label."""

    model: str
    method: str
    pattern: str
    calib_tokens: int = 8192

    def windows(self) -> list[np.ndarray]:
        """The calibration token windows (none for methods that need no data)."""
        if self.method in ("dense", "magnitude"):
            return []
        from suite.data.capture import token_window

        sizes = [min(CALIB_CONTEXT, self.calib_tokens - s)
                 for s in range(0, self.calib_tokens, CALIB_CONTEXT)]
        return [token_window(self.model, "calibration", n, i * CALIB_CONTEXT)
                for i, n in enumerate(sizes)]

    def key(self) -> dict[str, Any]:
        """What the cached file depends on: the checkpoint's identity, the text it saw."""
        from suite.data.capture import ids_digest
        from suite.data.models import model_identity

        windows = self.windows()
        ids = ids_digest(np.concatenate(windows)) if windows else ""
        return {"model": model_identity(self.model), "method": self.method,
                "pattern": self.pattern, "calib_tokens": self.calib_tokens if ids else 0,
                "calib_context": CALIB_CONTEXT, "calib_ids": ids, "code": PRUNE_VERSION}


@dataclass
class PrunedModel:
    """The pruned linears (float32, zeros where pruned), their masks and where they came from."""

    spec: PruneSpec
    weights: dict[str, np.ndarray]
    masks: dict[str, np.ndarray] | None
    prune_s: float
    source: str
    load_s: float = 0.0
    calibration_tokens: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def mask(self, name: str) -> np.ndarray:
        if self.masks is None:
            return np.ones(self.weights[name].shape, dtype=bool)
        return self.masks[name]

    @cached_property
    def nnz(self) -> dict[str, int]:
        """Kept weights per layer."""
        if self.masks is None:
            return {n: int(w.size) for n, w in self.weights.items()}
        return {n: int(m.sum()) for n, m in self.masks.items()}

    @property
    def density(self) -> float:
        return sum(self.nnz.values()) / sum(w.size for w in self.weights.values())

    @property
    def nbytes(self) -> int:
        masks = sum(m.size for m in self.masks.values()) if self.masks else 0
        return int(sum(w.nbytes for w in self.weights.values()) + masks)

    @cached_property
    def model(self):
        """A ``LlamaModel`` of the pruned weights, every layer dense numpy."""
        from suite.data.llama import LlamaModel
        from suite.data.models import llama_model

        base = llama_model(self.spec.model)
        return LlamaModel(base.config, {**base.weights, **self.weights})


def pruned_model(spec: PruneSpec) -> PrunedModel:
    """``spec``'s pruned model: from memory, from the disk cache, or pruned now (the dense
    model holds no copies and is never memoised)."""
    if spec.method == "dense":
        return _load_or_prune(spec)
    if spec in _MEMO:
        _MEMO.move_to_end(spec)
        found = _MEMO[spec]
        return PrunedModel(found.spec, found.weights, found.masks, found.prune_s, "memory",
                           0.0, found.calibration_tokens)
    made = _load_or_prune(spec)
    _MEMO[spec] = made
    while len(_MEMO) > MEMO_SIZE:
        _MEMO.popitem(last=False)
    return made


def forget() -> None:
    """Drop the in-memory copies (tests; a caller that needs the memory back)."""
    _MEMO.clear()


def _load_or_prune(spec: PruneSpec) -> PrunedModel:
    from suite.data.cache import derived, derived_path
    from suite.data.models import llama_model

    base = llama_model(spec.model)
    names = block_linears(base.config.num_layers)
    start = time.perf_counter()
    if spec.method == "dense":
        return PrunedModel(spec, {n: base.weights[n] for n in names}, None, 0.0, "dense")
    key = spec.key()
    cached = derived_path("pruned-llm", key).exists()
    values = spec.method in UPDATES_WEIGHTS
    arrays = derived("pruned-llm", key, lambda: _pack(_prune(spec, base), values))
    weights, masks = _unpack(arrays, base, names, values)
    return PrunedModel(spec, weights, masks, float(arrays["prune_s"]),
                       "disk" if cached else "pruned", time.perf_counter() - start,
                       int(arrays["calibration_tokens"]))


def _prune(spec: PruneSpec, base):
    from suite.workloads.spmm_patterns import parse_pattern

    return prune_llama(base, spec.method, parse_pattern(spec.pattern), spec.windows())


def _pack(result, values: bool) -> dict[str, np.ndarray]:
    """Masks as packed bits; the kept values only where the method changed them."""
    arrays = {"prune_s": np.array(result.seconds),
              "calibration_tokens": np.array(result.calibration_tokens)}
    for name, mask in result.masks.items():
        arrays[f"mask__{name}"] = np.packbits(mask.ravel())
        if values:
            arrays[f"values__{name}"] = result.weights[name][mask]
    return arrays


def _unpack(arrays, base, names, stored_values: bool):
    weights, masks = {}, {}
    for name in names:
        dense = base.weights[name]
        mask = np.unpackbits(arrays[f"mask__{name}"], count=dense.size).reshape(dense.shape)
        masks[name] = mask.astype(bool)
        weight = np.zeros_like(dense)
        weight[masks[name]] = arrays[f"values__{name}"] if stored_values else dense[masks[name]]
        weights[name] = weight
    return weights, masks
