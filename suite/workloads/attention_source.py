"""Where an attention instance's Q, K, V come from: SmolLM2-135M captures or the generator.

``load_inputs(source, shape, layers, seed)`` returns ``AttentionInputs``: per chosen layer
the full-length (prefill-shaped) Q, K, V of the evaluation data, the same of the
calibration data (what Top-theta thresholds and Double Sparsity channels are fitted on,
offline), and the layer's output projection W_o where the source has one.

* ``smollm2``: ``suite.data.capture.capture_qkv`` on the ``evaluation`` text split (Hamlet,
  Macbeth; batch entry b is the window at offset b * L), calibration on the
  ``calibration`` split (other plays), both cached on disk by the data layer; W_o from
  ``suite.data.layers.layer_weight``. Shapes are the model's: 9 query heads, 3 KV heads,
  head dim 64, up to 8192 tokens (its context).
* ``synthetic``: ``attention_synthetic.synthetic_qkv``; calibration is another text
  (``text=1``) through the same synthetic model.

Cost: the first SmolLM2 capture at L tokens runs the model to the deepest chosen layer,
O(L^2) attention per layer (about a minute at 2048 tokens on 2 cores, with the float32
L x L scores of the data layer's reference forward in memory); later runs read the cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suite.errors import ParamError
from suite.workloads.attention_synthetic import Shape, synthetic_qkv

SOURCES = ("synthetic", "smollm2")
SMOLLM2 = {"heads": 9, "kv_heads": 3, "head_dim": 64, "layers": 30, "context": 8192}


@dataclass
class AttentionInputs:
    """``layers``/``calibration``: layer -> (q, k, v), q B x H x L x d, k/v B x Hkv x L x d
    float32; ``w_o``: layer -> hidden x (H d) float32, or None."""

    source: str
    layers: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]
    calibration: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]
    w_o: dict[int, np.ndarray] | None


def check_source(source: str, shape: Shape, layers: list[int]) -> None:
    """Cross-field checks for the source (one-line ``ParamError``)."""
    if source != "smollm2":
        return
    for name in ("heads", "kv_heads", "head_dim"):
        if getattr(shape, name) != SMOLLM2[name]:
            raise ParamError(name, getattr(shape, name),
                             f"{SMOLLM2[name]} for source smollm2 (the model's shape)")
    if shape.length > SMOLLM2["context"]:
        raise ParamError("length", shape.length,
                         f"at most {SMOLLM2['context']} for smollm2 (its context); use "
                         "source synthetic beyond")
    bad = [i for i in layers if not 0 <= i < SMOLLM2["layers"]]
    if bad:
        raise ParamError("layers", bad[0], f"layers 0..{SMOLLM2['layers'] - 1} of smollm2")


def load_inputs(source: str, shape: Shape, layers: list[int], seed: int) -> AttentionInputs:
    if source == "smollm2":
        return _smollm2(shape, layers)
    evaluation = {i: synthetic_qkv(shape, seed, i) for i in layers}
    calibration = {i: synthetic_qkv(shape, seed, i, text=1) for i in layers}
    return AttentionInputs(source, evaluation, calibration, None)


def _smollm2(shape: Shape, layers: list[int]) -> AttentionInputs:
    from suite.data.layers import layer_weight, parse_layer_ref

    evaluation = _captures(shape, layers, "evaluation")
    calibration = _captures(shape, layers, "calibration")
    w_o = {i: layer_weight(parse_layer_ref(f"smollm2.layer{i}.attn-o")) for i in layers}
    return AttentionInputs("smollm2", evaluation, calibration, w_o)


def _captures(shape: Shape, layers: list[int], split: str):
    """layer -> (q, k, v) stacked over batch windows at offsets b * L of the split."""
    from suite.data.capture import capture_qkv

    per_window = [capture_qkv("smollm2", layers=layers, tokens=shape.length, split=split,
                              offset=b * shape.length) for b in range(shape.batch)]
    return {i: tuple(np.ascontiguousarray(np.stack([getattr(w[i], part) for w in per_window]),
                                          dtype=np.float32) for part in ("q", "k", "v"))
            for i in layers}
