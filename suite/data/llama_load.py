"""Build a ``LlamaModel`` from a GGUF file or a Hugging Face folder (config + safetensors).

``load_llama(path)`` takes a ``.gguf`` file (read with the ``gguf`` package, dequantised to
float32; llama.cpp's Q/K row permutation is undone so the weights are in Hugging Face
layout) or a folder with ``config.json`` and ``*.safetensors``. ``read_linear(path, name)``
reads one linear layer's (out x in) weight without loading the rest. Weights are named as
``LlamaModel`` expects: ``embed``, ``norm``, ``lm-head`` and ``layer{i}.<kind>``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from suite.data.gguf_model import GgufFile, open_gguf
from suite.data.llama import LINEAR_KINDS, LlamaConfig, LlamaModel
from suite.data.safetensors_io import read_safetensors_dir
from suite.errors import UserError

GGUF_NAMES = {"attn-q": "attn_q", "attn-k": "attn_k", "attn-v": "attn_v",
              "attn-o": "attn_output", "mlp-gate": "ffn_gate", "mlp-up": "ffn_up",
              "mlp-down": "ffn_down", "attn-norm": "attn_norm", "mlp-norm": "ffn_norm"}
HF_NAMES = {"attn-q": "self_attn.q_proj", "attn-k": "self_attn.k_proj",
            "attn-v": "self_attn.v_proj", "attn-o": "self_attn.o_proj",
            "mlp-gate": "mlp.gate_proj", "mlp-up": "mlp.up_proj", "mlp-down": "mlp.down_proj",
            "attn-norm": "input_layernorm", "mlp-norm": "post_attention_layernorm"}
LAYER_PARTS = (*LINEAR_KINDS, "attn-norm", "mlp-norm")


def load_llama(path: str | Path) -> LlamaModel:
    """A float32 ``LlamaModel`` from a ``.gguf`` file or a Hugging Face folder."""
    path = Path(path)
    if path.is_dir():
        return _from_hf(path)
    if not path.exists():
        raise UserError(f"{path}: no such GGUF file or model folder")
    return _from_gguf(open_gguf(path))


def read_config(path: str | Path) -> LlamaConfig:
    """The checkpoint's config alone (cheap: no tensor is read)."""
    path = Path(path)
    if path.is_dir():
        return config_from_hf(_hf_config(path))
    return config_from_gguf(open_gguf(path))


def read_linear(path: str | Path, name: str) -> np.ndarray:
    """One linear layer (``layer12.mlp-up``) as a float32 (out x in) array."""
    path = Path(path)
    layer, kind = _split_name(name)
    if path.is_dir():
        full = f"model.layers.{layer}.{HF_NAMES[kind]}.weight"
        return read_safetensors_dir(path, {full})[full]
    gguf = open_gguf(path)
    return _gguf_layer_part(gguf, config_from_gguf(gguf), layer, kind)


def _split_name(name: str) -> tuple[int, str]:
    head, _, kind = name.partition(".")
    if not head.startswith("layer") or not head[5:].isdigit() or kind not in LINEAR_KINDS:
        raise UserError(f"linear {name!r}; allowed: layer<i>.<{'|'.join(LINEAR_KINDS)}>")
    return int(head[5:]), kind


def config_from_gguf(gguf: GgufFile) -> LlamaConfig:
    arch = gguf.field("general.architecture")
    if arch != "llama":
        raise UserError(f"{gguf.path}: architecture {arch!r}; allowed: llama")
    scaling = gguf.field("llama.rope.scaling.type", "none")
    if scaling not in ("none", None) or gguf.has_tensor("rope_freqs.weight"):
        raise UserError(f"{gguf.path}: RoPE scaling {scaling!r} is not supported; "
                        "allowed: plain RoPE (SmolLM2, TinyLlama, Llama-2, Llama-3)")
    heads = int(gguf.field("llama.attention.head_count"))
    hidden = int(gguf.field("llama.embedding_length"))
    vocab = gguf.field("llama.vocab_size") or len(gguf.field("tokenizer.ggml.tokens") or ())
    return LlamaConfig(
        vocab_size=int(vocab),
        hidden_size=hidden, intermediate_size=int(gguf.field("llama.feed_forward_length")),
        num_layers=int(gguf.field("llama.block_count")), num_heads=heads,
        num_kv_heads=int(gguf.field("llama.attention.head_count_kv", heads)),
        head_dim=int(gguf.field("llama.attention.key_length", hidden // heads)),
        rms_norm_eps=float(gguf.field("llama.attention.layer_norm_rms_epsilon", 1e-5)),
        rope_theta=float(gguf.field("llama.rope.freq_base", 10_000.0)),
        bos_token_id=_optional_int(gguf.field("tokenizer.ggml.bos_token_id")))


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _from_gguf(gguf: GgufFile) -> LlamaModel:
    cfg = config_from_gguf(gguf)
    weights = {"embed": gguf.tensor("token_embd.weight"), "norm": gguf.tensor("output_norm.weight")}
    weights["lm-head"] = (gguf.tensor("output.weight") if gguf.has_tensor("output.weight")
                          else weights["embed"])
    for i in range(cfg.num_layers):
        for kind in LAYER_PARTS:
            weights[f"layer{i}.{kind}"] = _gguf_layer_part(gguf, cfg, i, kind)
    return LlamaModel(cfg, weights)


def _gguf_layer_part(gguf: GgufFile, cfg: LlamaConfig, layer: int, kind: str) -> np.ndarray:
    if not 0 <= layer < cfg.num_layers:
        raise UserError(f"{gguf.path}: layer {layer}; allowed: 0..{cfg.num_layers - 1}")
    weight = gguf.tensor(f"blk.{layer}.{GGUF_NAMES[kind]}.weight")
    if kind == "attn-q":
        return unpermute_rows(weight, cfg.num_heads)
    if kind == "attn-k":
        return unpermute_rows(weight, cfg.num_kv_heads)
    return weight


def unpermute_rows(weight: np.ndarray, heads: int) -> np.ndarray:
    """Undo llama.cpp's per-head row interleave of Q and K (back to rotate-half layout)."""
    rows = weight.shape[0]
    shaped = weight.reshape(heads, rows // heads // 2, 2, *weight.shape[1:])
    return np.ascontiguousarray(shaped.swapaxes(1, 2).reshape(weight.shape))


def permute_rows(weight: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's interleave (what its converter writes); the inverse of ``unpermute_rows``."""
    rows = weight.shape[0]
    shaped = weight.reshape(heads, 2, rows // heads // 2, *weight.shape[1:])
    return np.ascontiguousarray(shaped.swapaxes(1, 2).reshape(weight.shape))


def _hf_config(folder: Path) -> dict[str, Any]:
    file = folder / "config.json"
    if not file.exists():
        raise UserError(f"{folder}: no config.json (a Hugging Face model folder has one)")
    return json.loads(file.read_text())


def config_from_hf(raw: dict[str, Any]) -> LlamaConfig:
    if raw.get("model_type") != "llama":
        raise UserError(f"model_type {raw.get('model_type')!r}; allowed: llama")
    rope = raw.get("rope_scaling") or raw.get("rope_parameters") or {}
    if rope.get("rope_type", rope.get("type", "default")) != "default":
        raise UserError(f"RoPE scaling {rope!r} is not supported; allowed: plain RoPE")
    heads, hidden = int(raw["num_attention_heads"]), int(raw["hidden_size"])
    return LlamaConfig(
        vocab_size=int(raw["vocab_size"]), hidden_size=hidden,
        intermediate_size=int(raw["intermediate_size"]),
        num_layers=int(raw["num_hidden_layers"]), num_heads=heads,
        num_kv_heads=int(raw.get("num_key_value_heads") or heads),
        head_dim=int(raw.get("head_dim") or hidden // heads),
        rms_norm_eps=float(raw.get("rms_norm_eps", 1e-6)),
        rope_theta=float(raw.get("rope_theta") or rope.get("rope_theta") or 10_000.0),
        bos_token_id=raw.get("bos_token_id"))


def _from_hf(folder: Path) -> LlamaModel:
    raw = _hf_config(folder)
    cfg = config_from_hf(raw)
    tensors = read_safetensors_dir(folder)
    weights = {"embed": tensors["model.embed_tokens.weight"],
               "norm": tensors["model.norm.weight"]}
    weights["lm-head"] = tensors.get("lm_head.weight", weights["embed"])
    for i in range(cfg.num_layers):
        for kind in LAYER_PARTS:
            weights[f"layer{i}.{kind}"] = tensors[f"model.layers.{i}.{HF_NAMES[kind]}.weight"]
    return LlamaModel(cfg, weights)
