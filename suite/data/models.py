"""Model names users type, resolved to files: a known artifact, or their own checkpoint.

A model parameter is ``smollm2`` / ``splade-tiny`` (fetched into the cache on first use) or
a path: a ``.gguf`` file or a Hugging Face folder (``config.json`` + ``*.safetensors``).
``model_path(spec)`` gives the file or folder; ``model_identity(spec)`` what a derived
artifact's cache key records of it (the pinned sha256, or path, size and mtime);
``llama_model(spec)`` / ``llama_tokenizer(spec)`` load once per process;
``llama_config(spec)`` answers without fetching for the known models (instances use it to
know their shapes at plan time).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from suite.data.artifacts import get_artifact
from suite.data.llama import LlamaConfig
from suite.errors import UserError

KNOWN = {"smollm2": "smollm2", "splade-tiny": "splade-tiny"}  # model name -> artifact
# What SmolLM2-135M-Instruct's GGUF declares (checked against the file by the tests).
SMOLLM2_CONFIG = LlamaConfig(
    vocab_size=49152, hidden_size=576, intermediate_size=1536, num_layers=30, num_heads=9,
    num_kv_heads=3, head_dim=64, rms_norm_eps=9.999999747378752e-06, rope_theta=100000.0,
    bos_token_id=1)


def model_path(spec: str) -> Path:
    """The checkpoint file or folder of ``spec`` (a known name is fetched if need be)."""
    if spec in KNOWN:
        from suite.data.fetch import ensure

        return ensure(KNOWN[spec])
    path = Path(spec).expanduser()
    if not path.exists():
        raise UserError(f"model {spec!r}: no such file or folder; allowed: "
                        f"{', '.join(KNOWN)}, a .gguf file or a Hugging Face model folder")
    return path


def model_identity(spec: str) -> dict[str, Any]:
    """What identifies the checkpoint's content, for cache keys (no file is read)."""
    if spec in KNOWN:
        artifact = get_artifact(KNOWN[spec])
        return {"name": spec, "sha256": artifact.sha256}
    path = model_path(spec).resolve()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {"path": str(path), "bytes": sum(f.stat().st_size for f in files),
            "mtime_ns": max((f.stat().st_mtime_ns for f in files), default=0)}


def llama_config(spec: str) -> LlamaConfig:
    if spec == "smollm2":
        return SMOLLM2_CONFIG
    from suite.data.llama_load import read_config

    return read_config(model_path(spec))


@lru_cache(maxsize=2)
def llama_model(spec: str):
    """The float32 ``LlamaModel`` of ``spec``, loaded once per process."""
    from suite.data.llama_load import load_llama

    return load_llama(model_path(spec))


@lru_cache(maxsize=4)
def llama_tokenizer(spec: str):
    from suite.data.tokenizer import tokenizer_for

    return tokenizer_for(model_path(spec))


@lru_cache(maxsize=8)
def split_ids(spec: str, split: str) -> tuple[int, ...]:
    """The token ids of one text split (``suite.data.text``) under ``spec``'s tokenizer."""
    from suite.data.text import split_text

    return tuple(llama_tokenizer(spec).encode(split_text(split)))
