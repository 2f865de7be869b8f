"""Read a GGUF file with the ``gguf`` package: metadata as Python values, tensors as float32.

``GgufFile(path)`` memory-maps the file once; ``.metadata`` holds every key except the
tokenizer's long arrays (``.field(key)`` reads any one), ``.tensor(name)`` dequantises one
tensor (Q4_1, Q8_0, K-quants, F16, BF16, F32: whatever ``gguf.quants`` supports) to a
float32 array in numpy order (rows = outputs), so a single layer can be read without
loading the model. Main entries: ``open_gguf(path)``, ``GgufFile.tensor``.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from suite.errors import UserError

LONG_ARRAYS = ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
               "tokenizer.ggml.merges", "tokenizer.ggml.scores")


@lru_cache(maxsize=4)
def open_gguf(path: str | Path) -> GgufFile:
    """A ``GgufFile`` opened once per process and path (parsing its header takes a second)."""
    return GgufFile(path)


class GgufFile:
    """One GGUF file, opened read-only (memory-mapped)."""

    def __init__(self, path: str | Path):
        import gguf

        self.path = Path(path)
        try:
            self._reader = gguf.GGUFReader(self.path)
        except (OSError, ValueError) as exc:
            raise UserError(f"{self.path}: not a readable GGUF file ({exc})") from None
        self._tensors = {t.name: t for t in self._reader.tensors}

    @cached_property
    def metadata(self) -> dict[str, Any]:
        return {k: self.field(k) for k in self._reader.fields if k not in LONG_ARRAYS}

    def field(self, key: str, default: Any = None) -> Any:
        item = self._reader.fields.get(key)
        if item is None:
            return default
        return item.contents()

    @property
    def tensor_names(self) -> list[str]:
        return list(self._tensors)

    def has_tensor(self, name: str) -> bool:
        return name in self._tensors

    def tensor(self, name: str) -> np.ndarray:
        """The named tensor, dequantised to float32, shaped (outputs, inputs) for a matrix."""
        from gguf import GGMLQuantizationType
        from gguf.quants import dequantize

        if name not in self._tensors:
            raise UserError(f"{self.path}: no tensor {name!r} in this GGUF file")
        info = self._tensors[name]
        shape = tuple(int(d) for d in reversed(info.shape))
        kind = info.tensor_type
        if kind == GGMLQuantizationType.F32:
            data = np.asarray(info.data, dtype=np.float32)
        elif kind == GGMLQuantizationType.F16:
            data = np.asarray(info.data, dtype=np.float16).astype(np.float32)
        else:
            data = dequantize(np.asarray(info.data), kind).astype(np.float32, copy=False)
        return np.ascontiguousarray(data.reshape(shape))
