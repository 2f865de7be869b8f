"""Which vector instruction set the SpMM micro-kernels compile for: ``detect() -> str``.

``avx512`` (512-bit vectors, ``vexpandps``), ``avx2`` (256-bit vectors, FMA, ``vpermps``;
AMD EPYC before Zen 4, Intel before Skylake-SP) or ``generic`` (16-byte vectors and
LLVM's portable intrinsics only: correct anywhere numba runs, fast nowhere).

The answer is what numba's JIT targets: the host CPU's features (llvmlite), with
``NUMBA_CPU_FEATURES`` (e.g. ``+avx2,-avx512f``) applied on top when set, and
``NUMBA_CPU_NAME`` set to a CPU without AVX-512 (``haswell``, ``znver3``...) counting as
no AVX-512. ``SPARSECAP_SPMM_ISA=avx2`` (or a kernel's ``isa`` option) forces a narrower
path, e.g. to test the AVX2 micro-kernels on an AVX-512 machine; forcing a wider one than
the CPU has is refused (``check``), it would crash with an illegal instruction.
"""

from __future__ import annotations

import os

from suite.errors import ParamError

ISAS = ("avx512", "avx2", "generic")  # widest first
ENV = "SPARSECAP_SPMM_ISA"
NO_AVX512_CPUS = ("haswell", "broadwell", "skylake", "alderlake", "raptorlake", "znver1",
                  "znver2", "znver3", "x86-64-v3", "core-avx2", "generic", "x86-64")


def _features() -> dict[str, bool]:
    try:
        import llvmlite.binding as ll
        features = {name: bool(on) for name, on in ll.get_host_cpu_features().items()}
    except (ImportError, RuntimeError):  # RuntimeError: llvmlite cannot read the host CPU
        features = {}
    for item in os.environ.get("NUMBA_CPU_FEATURES", "").split(","):
        item = item.strip()
        if len(item) > 1 and item[0] in "+-":
            features[item[1:]] = item[0] == "+"
    cpu = os.environ.get("NUMBA_CPU_NAME", "").strip().lower()
    if cpu in NO_AVX512_CPUS:
        features["avx512f"] = False
    return features


def hardware() -> str:
    """The widest instruction set numba's target has (ignores ``SPARSECAP_SPMM_ISA``)."""
    features = _features()
    if features.get("avx512f"):
        return "avx512"
    if features.get("avx2") and features.get("fma"):
        return "avx2"
    return "generic"


def check(isa: str) -> str:
    """``isa`` if this machine can run it; a ``ParamError`` naming the choices if not."""
    top = hardware()
    allowed = ISAS[ISAS.index(top):]
    if isa not in allowed:
        raise ParamError("isa", isa, f"one of {', '.join(allowed)} on this CPU")
    return isa


def detect(override: str | None = None) -> str:
    """The instruction set the kernels use: ``override`` (a kernel's ``isa`` option), else
    ``SPARSECAP_SPMM_ISA``, else the hardware's (``hardware()``)."""
    choice = override or os.environ.get(ENV, "").strip().lower() or None
    return check(choice) if choice else hardware()
