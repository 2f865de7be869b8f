"""Tiny random checkpoints written through the real file formats, for tests and examples.

They go through exactly the loaders the real models use, so a test needs no fetch:
``write_tiny_gguf(path)`` writes a two-layer Llama as GGUF with the ``gguf`` package's
writer (Q8_0 matrices, llama.cpp's Q/K row interleave, a byte-level BPE vocabulary) and
returns the float32 weights it holds in Hugging Face layout; ``write_tiny_hf(folder,
weights)`` the same weights as ``config.json`` + ``model.safetensors``;
``write_tiny_bert(folder)`` a two-layer BERT masked-LM with a WordPiece ``tokenizer.json``;
``write_tiny_plays(folder)`` a stand-in for the plays artifact (seeded speeches).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from suite.data.llama import LINEAR_KINDS, LlamaConfig
from suite.data.llama_load import GGUF_NAMES, HF_NAMES, LAYER_PARTS, permute_rows
from suite.data.safetensors_io import write_safetensors

MERGES = (("h", "e"), ("t", "he"), ("Ġ", "t"), ("Ġt", "he"), ("e", "r"))
SPECIAL = ("<|endoftext|>", "<|im_start|>")


def byte_level_vocab() -> list[str]:
    """Special tokens, the 256 byte-level symbols, then the merges' results."""
    from tokenizers.pre_tokenizers import ByteLevel

    return [*SPECIAL, *sorted(ByteLevel.alphabet()), *("".join(m) for m in MERGES)]


TINY_LLAMA = LlamaConfig(vocab_size=len(SPECIAL) + 256 + len(MERGES), hidden_size=32,
                         intermediate_size=64, num_layers=2, num_heads=4, num_kv_heads=2,
                         head_dim=8, rms_norm_eps=1e-5, rope_theta=10_000.0, bos_token_id=0)


def tiny_llama_weights(config: LlamaConfig = TINY_LLAMA, seed: int = 0) -> dict[str, np.ndarray]:
    """Random float32 weights in ``LlamaModel``'s naming (Hugging Face layout)."""
    rng = np.random.default_rng(seed)
    weights = {"embed": rng.standard_normal((config.vocab_size, config.hidden_size)),
               "norm": 1.0 + 0.1 * rng.standard_normal(config.hidden_size)}
    for i in range(config.num_layers):
        for kind in LINEAR_KINDS:
            out, inp = config.linear_shape(kind)
            weights[f"layer{i}.{kind}"] = rng.standard_normal((out, inp)) / np.sqrt(inp)
        for kind in ("attn-norm", "mlp-norm"):
            weights[f"layer{i}.{kind}"] = 1.0 + 0.1 * rng.standard_normal(config.hidden_size)
    weights = {k: v.astype(np.float32) for k, v in weights.items()}
    weights["lm-head"] = weights["embed"]
    return weights


def write_tiny_gguf(path: str | Path, config: LlamaConfig = TINY_LLAMA,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """Write a GGUF Llama; returns the (dequantised) weights it holds, HF layout."""
    import gguf

    weights = _through_q8(tiny_llama_weights(config, seed))
    writer = gguf.GGUFWriter(str(path), arch="llama")
    _write_metadata(writer, config)
    writer.add_tensor("token_embd.weight", weights["embed"])
    writer.add_tensor("output_norm.weight", weights["norm"])
    for i in range(config.num_layers):
        for kind in LAYER_PARTS:
            _add_layer_tensor(writer, config, f"blk.{i}.{GGUF_NAMES[kind]}.weight", kind,
                              weights[f"layer{i}.{kind}"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return weights


def _through_q8(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Round the matrices as Q8_0 storage will, so callers hold what the file holds."""
    from gguf import GGMLQuantizationType as Q
    from gguf.quants import dequantize, quantize

    out = {k: (dequantize(quantize(v, Q.Q8_0), Q.Q8_0).astype(np.float32)
               if k.split(".")[-1] in LINEAR_KINDS else v) for k, v in weights.items()}
    out["lm-head"] = out["embed"]
    return out


def _add_layer_tensor(writer, config: LlamaConfig, name: str, kind: str,
                      weight: np.ndarray) -> None:
    from gguf import GGMLQuantizationType as Q
    from gguf.quants import quantize

    if kind not in LINEAR_KINDS:
        writer.add_tensor(name, weight)
        return
    if kind in ("attn-q", "attn-k"):
        heads = config.num_heads if kind == "attn-q" else config.num_kv_heads
        weight = permute_rows(weight, heads)
    writer.add_tensor(name, quantize(weight, Q.Q8_0), raw_dtype=Q.Q8_0)


def _write_metadata(writer, config: LlamaConfig) -> None:
    writer.add_block_count(config.num_layers)
    writer.add_context_length(256)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_heads)
    writer.add_head_count_kv(config.num_kv_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_freq_base(config.rope_theta)
    writer.add_vocab_size(config.vocab_size)
    writer.add_tokenizer_model("gpt2")
    vocab = byte_level_vocab()
    writer.add_token_list(vocab)
    writer.add_token_types([3 if t in SPECIAL else 1 for t in vocab])
    writer.add_token_merges([" ".join(m) for m in MERGES])
    writer.add_bos_token_id(0)


def write_tiny_hf(folder: str | Path, weights: dict[str, np.ndarray],
                  config: LlamaConfig = TINY_LLAMA) -> Path:
    """The same model as a Hugging Face folder: ``config.json`` + ``model.safetensors``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {"model.embed_tokens.weight": weights["embed"], "model.norm.weight": weights["norm"]}
    for i in range(config.num_layers):
        for kind in LAYER_PARTS:
            tensors[f"model.layers.{i}.{HF_NAMES[kind]}.weight"] = weights[f"layer{i}.{kind}"]
    write_safetensors(folder / "model.safetensors", tensors)
    raw = {"model_type": "llama", "vocab_size": config.vocab_size,
           "hidden_size": config.hidden_size, "intermediate_size": config.intermediate_size,
           "num_hidden_layers": config.num_layers, "num_attention_heads": config.num_heads,
           "num_key_value_heads": config.num_kv_heads, "rms_norm_eps": config.rms_norm_eps,
           "rope_theta": config.rope_theta, "tie_word_embeddings": True}
    (folder / "config.json").write_text(json.dumps(raw))
    return folder


BERT_WORDS = ("the", "king", "queen", "sword", "crown", "night", "love", "death", "ghost",
              "castle", "horse", "letter", "##s", "##ed", ",", ".", "!", "?")


def write_tiny_bert(folder: str | Path, seed: int = 0, hidden: int = 16) -> Path:
    """A two-layer BERT masked-LM (old ``gamma``/``beta`` names) and its WordPiece tokenizer."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *BERT_WORDS]
    _bert_tokenizer(vocab).save(str(folder / "tokenizer.json"))
    raw = {"model_type": "bert", "hidden_act": "gelu", "vocab_size": len(vocab),
           "hidden_size": hidden, "num_hidden_layers": 2, "num_attention_heads": 2,
           "intermediate_size": 2 * hidden, "max_position_embeddings": 64,
           "layer_norm_eps": 1e-12}
    (folder / "config.json").write_text(json.dumps(raw))
    write_safetensors(folder / "model.safetensors", _bert_weights(raw, seed))
    return folder


def _bert_weights(raw: dict, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    h, v, inner = raw["hidden_size"], raw["vocab_size"], raw["intermediate_size"]

    def mat(rows, cols):
        return (rng.standard_normal((rows, cols)) / np.sqrt(cols)).astype(np.float32)

    def vec(n, base=0.0):
        return (base + 0.1 * rng.standard_normal(n)).astype(np.float32)

    w = {"bert.embeddings.word_embeddings.weight": mat(v, h),
         "bert.embeddings.position_embeddings.weight": mat(raw["max_position_embeddings"], h),
         "bert.embeddings.token_type_embeddings.weight": mat(2, h),
         "cls.predictions.bias": vec(v), "cls.predictions.transform.dense.weight": mat(h, h),
         "cls.predictions.transform.dense.bias": vec(h)}
    norms = ["bert.embeddings.LayerNorm", "cls.predictions.transform.LayerNorm"]
    for i in range(raw["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}."
        for name, (rows, cols) in {"attention.self.query": (h, h), "attention.self.key": (h, h),
                                   "attention.self.value": (h, h),
                                   "attention.output.dense": (h, h),
                                   "intermediate.dense": (inner, h),
                                   "output.dense": (h, inner)}.items():
            w[f"{p}{name}.weight"], w[f"{p}{name}.bias"] = mat(rows, cols), vec(rows)
        norms += [f"{p}attention.output.LayerNorm", f"{p}output.LayerNorm"]
    for n in norms:
        w[f"{n}.gamma"], w[f"{n}.beta"] = vec(h, 1.0), vec(h)
    return w


def _bert_tokenizer(vocab: list[str]):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return tok


PLAY_WORDS = ("my", "lord", "the", "king", "is", "dead", "long", "live", "queen", "night",
              "sword", "ghost", "hath", "thou", "art", "love", "crown", "fair", "sweet", "good")


def write_tiny_plays(folder: str | Path, speeches: int = 40, seed: int = 0) -> Path:
    """A stand-in for the plays artifact: every play of ``suite.data.text`` as a short
    text of seeded speeches (``SPEAKER.`` then a line), blank lines between them."""
    from suite.data.text import SPLITS

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for number, play in enumerate(p for split in SPLITS.values() for p in split):
        rng = np.random.default_rng([seed, number])
        blocks = [f"{play.upper()}\n\nby William Shakespeare"]
        for _ in range(speeches):
            words = rng.choice(PLAY_WORDS, size=int(rng.integers(4, 16)))
            speaker = ("Ham.", "Hor.", "King.", "Queen.")[int(rng.integers(4))]
            blocks.append(f"{speaker}\n{' '.join(words).capitalize()}.")
        (folder / f"{play}_gut.txt").write_text("\n\n".join(blocks) + "\n")
    return folder
