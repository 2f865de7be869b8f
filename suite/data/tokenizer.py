"""Tokenizers built from a model's own files with the ``tokenizers`` library.

``gguf_tokenizer(gguf)`` rebuilds a GGUF's byte-level BPE (``tokenizer.ggml.model`` =
``gpt2``: tokens and merges from the file; the pre-tokenizer of the ``smollm``/``llama-bpe``
families: single digits, then GPT-2's byte-level split); control tokens stay whole.
``folder_tokenizer(folder)`` loads ``tokenizer.json`` (Hugging Face folders, SPLADE-tiny).
``Tokenizer.encode(text) -> list[int]`` returns ids without special tokens added.
Main entries: ``tokenizer_for(path)``, ``Tokenizer``.
"""

from __future__ import annotations

from pathlib import Path

from suite.data.gguf_model import GgufFile, open_gguf
from suite.errors import UserError

CONTROL = 3  # tokenizer.ggml.token_type of a control (special) token


class Tokenizer:
    """A ``tokenizers.Tokenizer`` with the two calls the data layer uses."""

    def __init__(self, inner):
        self.inner = inner

    @property
    def vocab_size(self) -> int:
        return self.inner.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str, special: bool = False) -> list[int]:
        """Token ids of ``text``; ``special`` adds the model's [CLS]/[SEP]-style tokens."""
        return self.inner.encode(text, add_special_tokens=special).ids

    def decode(self, ids: list[int]) -> str:
        return self.inner.decode(ids)

    def token_to_id(self, token: str) -> int | None:
        return self.inner.token_to_id(token)


def tokenizer_for(path: str | Path) -> Tokenizer:
    """The tokenizer of a ``.gguf`` file or of a folder holding ``tokenizer.json``."""
    path = Path(path)
    return folder_tokenizer(path) if path.is_dir() else gguf_tokenizer(open_gguf(path))


def folder_tokenizer(folder: Path) -> Tokenizer:
    from tokenizers import Tokenizer as Inner

    file = folder / "tokenizer.json"
    if not file.exists():
        raise UserError(f"{folder}: no tokenizer.json")
    inner = Inner.from_file(str(file))
    inner.no_padding()
    inner.no_truncation()
    return Tokenizer(inner)


def gguf_tokenizer(gguf: GgufFile) -> Tokenizer:
    from tokenizers import AddedToken, decoders, models, pre_tokenizers
    from tokenizers import Tokenizer as Inner

    kind = gguf.field("tokenizer.ggml.model")
    if kind != "gpt2":
        raise UserError(f"{gguf.path}: tokenizer {kind!r}; allowed: gpt2 (byte-level BPE)")
    tokens = list(gguf.field("tokenizer.ggml.tokens"))
    merges = [tuple(m.split(" ", 1)) for m in gguf.field("tokenizer.ggml.merges")]
    inner = Inner(models.BPE({t: i for i, t in enumerate(tokens)}, merges,
                             fuse_unk=False, byte_fallback=False))
    inner.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    inner.decoder = decoders.ByteLevel()
    types = gguf.field("tokenizer.ggml.token_type") or []
    special = [tokens[i] for i, t in enumerate(types) if int(t) == CONTROL]
    inner.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in special])
    return Tokenizer(inner)
