"""FLOPs and minimum bytes of each SpMM format, and the cheap ``supports`` checks.

Every kernel reports the FLOPs it executes and the fewest bytes its format must move:
stored values + indices + metadata, x read once, the output written once. Formulas (item =
bytes per value, nnz = stored non-zeros, N = columns of x):

- dense: flops 2*M*K*N; bytes item*(M*K + K*N + M*N)
- CSR:   flops 2*nnz*N; bytes nnz*(item + 4) + 4*(M + 1) + item*(K*N + M*N)
- BSR:   flops 2*blocks*b*b*N; bytes blocks*(b*b*item + 4) + 4*(M/b + 1) + item*(K*N + M*N)
- N:M:   flops 2*M*G*n*N (padded slots included); bytes M*G*n*(item + 1) + item*(K*N + M*N)
"""

from __future__ import annotations

INDEX_BYTES = 4  # int32 column indices and row pointers


def io_bytes(instance) -> float:
    """x read once plus the output written once."""
    return float(instance.dtype.itemsize * (instance.k * instance.n + instance.m * instance.n))


def dense_cost(instance) -> tuple[float, float]:
    item = instance.dtype.itemsize
    return 2.0 * instance.m * instance.k * instance.n, item * instance.m * instance.k + io_bytes(instance)


def csr_cost(instance, nnz: int, n_rows: int) -> tuple[float, float]:
    stored = nnz * (instance.dtype.itemsize + INDEX_BYTES) + INDEX_BYTES * (n_rows + 1)
    return 2.0 * nnz * instance.n, stored + io_bytes(instance)


def bsr_cost(instance, n_blocks: int, block: int) -> tuple[float, float]:
    item = instance.dtype.itemsize
    stored = n_blocks * (block * block * item + INDEX_BYTES)
    stored += INDEX_BYTES * (-(-instance.m // block) + 1)
    return 2.0 * n_blocks * block * block * instance.n, stored + io_bytes(instance)


def nm_cost(instance, format_bytes: int, slots: int) -> tuple[float, float]:
    """``slots`` = M*G*n stored values (explicit zeros included: the kernel multiplies them)."""
    return 2.0 * slots * instance.n, format_bytes + io_bytes(instance)


def needs_nm(instance) -> str | None:
    """N:M kernels run only N:M patterns (a dense pattern is N:M only trivially)."""
    if instance.pattern.kind != "nm":
        return f"needs an N:M pattern; got {instance.pattern.label}"
    return None


def needs_dtype(instance, allowed: tuple[str, ...], who: str) -> str | None:
    if instance.dtype.name not in allowed:
        return f"{who} supports {', '.join(allowed)}; got {instance.dtype.name}"
    return None
