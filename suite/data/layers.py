"""Real linear layers for the SpMM family: ``smollm2.layer12.mlp-up`` -> weight and inputs.

A layer reference is ``<model>.layer<i>.<kind>``: ``model`` is ``smollm2`` or a path to a
``.gguf`` file or Hugging Face folder (split at the last two dots), ``kind`` one of
``attn-q attn-k attn-v attn-o mlp-gate mlp-up mlp-down``. ``parse_layer_ref(text)``
validates without reading any file for the known models; ``layer_shape`` gives (M, K);
``layer_weight`` the dense float32 (M x K) weight (one tensor read, nothing else);
``layer_activations(ref, tokens)`` the K x tokens inputs the layer sees on the calibration
split (captured once, cached).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from suite.data.llama import LINEAR_KINDS
from suite.data.models import KNOWN, llama_config, model_path
from suite.errors import UserError

_REF = re.compile(r"^(?P<model>.+)\.layer(?P<layer>\d+)\.(?P<kind>[a-z-]+)$")
REF_HELP = (f"random, or <model>.layer<i>.<{'|'.join(LINEAR_KINDS)}> with model "
            f"{' or '.join(k for k in KNOWN if k != 'splade-tiny')} or a .gguf file / "
            "Hugging Face folder")


@dataclass(frozen=True)
class LayerRef:
    """One linear layer of one model."""

    model: str
    layer: int
    kind: str

    @property
    def name(self) -> str:
        return f"layer{self.layer}.{self.kind}"

    @property
    def label(self) -> str:
        model = self.model if self.model in KNOWN else self.model.rsplit("/", 1)[-1]
        return f"{model}.{self.name}"


def parse_layer_ref(text: str) -> LayerRef:
    """``smollm2.layer12.mlp-up`` -> LayerRef; ``ValueError`` says what is allowed."""
    found = _REF.match(text.strip())
    if not found or found["kind"] not in LINEAR_KINDS or found["model"] == "splade-tiny":
        raise ValueError(REF_HELP)
    ref = LayerRef(found["model"], int(found["layer"]), found["kind"])
    try:  # a user's file is read now (its header), so a bad path fails at plan time
        layers = llama_config(ref.model).num_layers
    except UserError as exc:
        raise ValueError(str(exc)) from None
    if ref.layer >= layers:
        raise ValueError(f"layer 0..{layers - 1} for {ref.model}")
    return ref


def layer_shape(ref: LayerRef) -> tuple[int, int]:
    """(M, K) = (outputs, inputs) of the layer."""
    return llama_config(ref.model).linear_shape(ref.kind)


def layer_weight(ref: LayerRef) -> np.ndarray:
    from suite.data.llama_load import read_linear

    return read_linear(model_path(ref.model), ref.name)


def layer_activations(ref: LayerRef, tokens: int) -> np.ndarray:
    """K x ``tokens`` float32: the layer's inputs on the calibration split, one column per
    token (the SpMM family's X)."""
    from suite.data.capture import capture_linear_inputs

    inputs = capture_linear_inputs(ref.model, [ref.name], tokens)[ref.name]
    return np.ascontiguousarray(inputs.T)
