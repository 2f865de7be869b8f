"""A BERT masked-LM forward pass in numpy (SPLADE-tiny and other BertForMaskedLM folders).

``BertMaskedLM.from_folder(folder)`` reads ``config.json`` and ``model.safetensors`` (old
``gamma``/``beta`` or new ``weight``/``bias`` LayerNorm names; the decoder is tied to the
word embeddings). ``encode(ids) -> hidden`` (T x hidden) runs one sequence without padding;
``mlm_logits(hidden) -> T x vocab``. ``suite.data.splade`` pools these into sparse vectors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import erf

from suite.data.safetensors_io import read_safetensors_dir
from suite.errors import UserError


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_positions: int
    layer_norm_eps: float = 1e-12

    @classmethod
    def from_dict(cls, raw: dict) -> BertConfig:
        if raw.get("model_type") != "bert" or raw.get("hidden_act", "gelu") != "gelu":
            raise UserError(f"model_type {raw.get('model_type')!r} with activation "
                            f"{raw.get('hidden_act')!r}; allowed: bert with gelu")
        return cls(int(raw["vocab_size"]), int(raw["hidden_size"]),
                   int(raw["num_hidden_layers"]), int(raw["num_attention_heads"]),
                   int(raw["intermediate_size"]), int(raw["max_position_embeddings"]),
                   float(raw.get("layer_norm_eps", 1e-12)))


class BertMaskedLM:
    """Float32 weights under their Hugging Face names (without the ``bert.`` prefix)."""

    def __init__(self, config: BertConfig, weights: dict[str, np.ndarray]):
        self.config = config
        self.w = weights

    @classmethod
    def from_folder(cls, folder: str | Path) -> BertMaskedLM:
        folder = Path(folder)
        if not (folder / "config.json").exists():
            raise UserError(f"{folder}: no config.json (a Hugging Face model folder has one)")
        config = BertConfig.from_dict(json.loads((folder / "config.json").read_text()))
        raw = read_safetensors_dir(folder)
        weights = {_canonical(k): np.asarray(v, dtype=np.float32) for k, v in raw.items()}
        return cls(config, weights)

    def encode(self, ids: list[int] | np.ndarray) -> np.ndarray:
        """Last hidden states (T x hidden) of one unpadded sequence."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) > self.config.max_positions:
            raise ValueError(f"{len(ids)} tokens > {self.config.max_positions} positions")
        w = self.w
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][: len(ids)]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._norm(x, "embeddings.LayerNorm")
        for i in range(self.config.num_layers):
            x = self._layer(f"encoder.layer.{i}.", x)
        return x

    def mlm_logits(self, hidden: np.ndarray) -> np.ndarray:
        """The masked-LM head: dense, GELU, LayerNorm, tied decoder plus bias."""
        h = gelu(self._dense(hidden, "cls.predictions.transform.dense"))
        h = self._norm(h, "cls.predictions.transform.LayerNorm")
        return h @ self.w["embeddings.word_embeddings.weight"].T + self.w["cls.predictions.bias"]

    def _layer(self, p: str, x: np.ndarray) -> np.ndarray:
        heads, tokens = self.config.num_heads, x.shape[0]
        dim = self.config.hidden_size // heads

        def split(y):
            return y.reshape(tokens, heads, dim).transpose(1, 0, 2)

        q, k, v = (split(self._dense(x, f"{p}attention.self.{n}")) for n in ("query", "key",
                                                                             "value"))
        scores = q @ k.transpose(0, 2, 1) * np.float32(1.0 / np.sqrt(dim))
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        ctx = (scores / scores.sum(axis=-1, keepdims=True)) @ v
        ctx = ctx.transpose(1, 0, 2).reshape(tokens, -1)
        x = self._norm(x + self._dense(ctx, f"{p}attention.output.dense"),
                       f"{p}attention.output.LayerNorm")
        inner = gelu(self._dense(x, f"{p}intermediate.dense"))
        return self._norm(x + self._dense(inner, f"{p}output.dense"), f"{p}output.LayerNorm")

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        scaled = (x - mean) / np.sqrt(var + np.float32(self.config.layer_norm_eps))
        return scaled * self.w[f"{name}.weight"] + self.w[f"{name}.bias"]


def gelu(x: np.ndarray) -> np.ndarray:
    """The exact (erf) GELU of BERT's ``hidden_act: gelu``."""
    return (0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))).astype(np.float32)


def _canonical(name: str) -> str:
    """``bert.x.LayerNorm.gamma`` -> ``x.LayerNorm.weight`` (old and new names alike)."""
    name = name.removeprefix("bert.")
    if name.endswith(".gamma"):
        return name[:-6] + ".weight"
    if name.endswith(".beta"):
        return name[:-5] + ".bias"
    return name
