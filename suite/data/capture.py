"""Run a Llama model on a text split and keep what families need, cached on disk.

``capture_qkv(model, layers, tokens)`` gives each layer's Q, K (after RoPE) and V per head
for one window of ``tokens`` tokens of a split (real attention inputs);
``capture_linear_inputs(model, names, tokens)`` the activations entering named linear
layers over ``tokens`` tokens (calibration data, SpMM activations). Both run the model only
as far as the deepest layer asked for and store their arrays with ``suite.data.cache.derived``
under the model's identity and a digest of the token ids they ran on. ``Recorder`` is the ``Hooks`` they use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from suite.data.cache import derived
from suite.data.llama import Hooks
from suite.data.models import llama_model, model_identity, split_ids
from suite.errors import UserError


@dataclass(frozen=True)
class QKV:
    """One layer's attention inputs, float32: ``q`` heads x T x head_dim (after RoPE),
    ``k`` kv-heads x T x head_dim (after RoPE), ``v`` kv-heads x T x head_dim."""

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray


class Recorder(Hooks):
    """Keeps Q/K/V of ``qkv_layers`` and the inputs of the linear layers in ``names``."""

    def __init__(self, qkv_layers: Sequence[int] = (), names: Sequence[str] = ()):
        self.qkv_layers = set(qkv_layers)
        self.names = set(names)
        self.attention: dict[int, QKV] = {}
        self.inputs: dict[str, list[np.ndarray]] = {}

    def qkv(self, layer, q, k, v):
        if layer in self.qkv_layers:
            self.attention[layer] = QKV(q.copy(), k.copy(), v.copy())

    def linear_input(self, name, x):
        if name in self.names:
            self.inputs.setdefault(name, []).append(np.array(x, dtype=np.float32))


def token_window(model: str, split: str, tokens: int, offset: int = 0) -> np.ndarray:
    """``tokens`` consecutive token ids of ``split`` from ``offset`` on."""
    ids = split_ids(model, split)
    if offset + tokens > len(ids):
        raise UserError(f"split {split!r} has {len(ids)} tokens; asked for {tokens} "
                        f"from offset {offset}")
    return np.asarray(ids[offset:offset + tokens], dtype=np.int64)


def capture_qkv(model: str = "smollm2", layers: Sequence[int] = (0,), tokens: int = 512,
                split: str = "evaluation", offset: int = 0) -> dict[int, QKV]:
    """layer -> ``QKV`` of one causal window of ``tokens`` tokens (cached)."""
    layers = sorted(set(int(i) for i in layers))
    ids = token_window(model, split, tokens, offset)
    key = {"model": model_identity(model), "layers": layers, "ids": ids_digest(ids)}

    def build():
        recorder = Recorder(qkv_layers=layers)
        llama_model(model).hidden(ids, recorder, last_layer=layers[-1])
        return {f"{part}{i}": getattr(recorder.attention[i], part)
                for i in layers for part in ("q", "k", "v")}

    arrays = derived("qkv", key, build)
    return {i: QKV(arrays[f"q{i}"], arrays[f"k{i}"], arrays[f"v{i}"]) for i in layers}


def capture_linear_inputs(model: str, names: Sequence[str], tokens: int,
                          split: str = "calibration", context: int = 512
                          ) -> dict[str, np.ndarray]:
    """name -> (tokens x in) float32 inputs of that linear layer, over consecutive windows
    of ``context`` tokens from the start of ``split`` (cached per window count)."""
    names = sorted(set(names))
    chunks = [token_window(model, split, context, w * context)
              for w in range(-(-tokens // context))]
    key = {"model": model_identity(model), "names": names,
           "ids": ids_digest(np.concatenate(chunks)), "context": context}

    def build():
        net = llama_model(model)
        recorder = Recorder(names=names)
        last = max(_layer_of(n, net.config.num_layers) for n in names)
        for ids in chunks:
            if "lm-head" in names:
                net.forward(ids, recorder)
            else:
                net.hidden(ids, recorder, last_layer=last)
        return {n: np.concatenate(recorder.inputs[n]) for n in names}

    arrays = derived("linear-inputs", key, build)
    return {n: a[:tokens] for n, a in arrays.items()}


def ids_digest(ids: np.ndarray) -> str:
    """A short sha256 of token ids: the text a capture saw, for its cache key."""
    return hashlib.sha256(np.ascontiguousarray(ids, dtype=np.int64).tobytes()).hexdigest()[:20]


def _layer_of(name: str, num_layers: int) -> int:
    """The layer a linear belongs to (``lm-head``: after the last one)."""
    head = name.partition(".")[0]
    return int(head[5:]) if head.startswith("layer") else num_layers - 1
