"""Read Hugging Face ``.safetensors`` files into float32 numpy arrays, without torch.

The format is an 8-byte little-endian header length, a JSON header (name -> dtype, shape,
byte offsets) and the raw tensors; this reader memory-maps the file and copies each tensor
out (aligned), floating point as float32 (F16 and BF16 converted).
Main entries: ``read_safetensors(path)``, ``read_safetensors_dir(folder)``; and
``write_safetensors(path, tensors)`` for the tiny models of ``suite.data.tiny``.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from suite.errors import UserError

_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "BF16": np.uint16,
           "I64": np.int64, "I32": np.int32, "U8": np.uint8}


def read_safetensors(path: str | Path, names: set[str] | None = None
                     ) -> dict[str, np.ndarray]:
    """name -> array (floating point as float32) of one file (only ``names`` if given)."""
    path = Path(path)
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    (length,) = struct.unpack("<Q", raw[:8].tobytes())
    try:
        header = json.loads(raw[8:8 + length].tobytes())
    except ValueError:
        raise UserError(f"{path}: not a safetensors file (unreadable header)") from None
    header.pop("__metadata__", None)
    body = 8 + length
    return {name: _tensor(raw, body, spec, path, name) for name, spec in header.items()
            if names is None or name in names}


def _tensor(raw: np.ndarray, body: int, spec: dict, path: Path, name: str) -> np.ndarray:
    if spec["dtype"] not in _DTYPES:
        raise UserError(f"{path}: tensor {name} has dtype {spec['dtype']}; allowed: "
                        f"{', '.join(_DTYPES)}")
    start, end = spec["data_offsets"]
    data = raw[body + start:body + end].view(_DTYPES[spec["dtype"]]).reshape(spec["shape"])
    if spec["dtype"] == "BF16":
        return (data.astype(np.uint32) << 16).view(np.float32)
    # A copy: offsets inside the file need not be aligned, and numpy's matmul falls back
    # from BLAS to a slow loop on unaligned arrays.
    return np.array(data, dtype=np.float32 if data.dtype.kind == "f" else data.dtype)


def read_safetensors_dir(folder: str | Path, names: set[str] | None = None
                         ) -> dict[str, np.ndarray]:
    """Every tensor (or those in ``names``) of every ``*.safetensors`` file in ``folder``."""
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise UserError(f"{folder}: no *.safetensors file in this folder")
    tensors: dict[str, np.ndarray] = {}
    for file in files:
        tensors.update(read_safetensors(file, names))
    return tensors


def write_safetensors(path: str | Path, tensors: dict[str, np.ndarray]) -> None:
    """Write float32/float16/int arrays as one ``.safetensors`` file (tiny test models)."""
    names = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16",
             np.dtype(np.float64): "F64", np.dtype(np.int64): "I64", np.dtype(np.int32): "I32"}
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array)
        header[name] = {"dtype": names[data.dtype], "shape": list(data.shape),
                        "data_offsets": [offset, offset + data.nbytes]}
        blobs.append(data.tobytes())
        offset += data.nbytes
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)) + text)
        for blob in blobs:
            out.write(blob)
