"""The instruction set the SpMM loops compile for (``kernels.spmm.isa``), and the narrow
formats the decode kernels read (``kernels.spmm.formats_sparse``)."""

import numpy as np
import pytest

from kernels.spmm import isa
from kernels.spmm.formats import nm_compress
from kernels.spmm.formats_sparse import PAD, bitmap_compress, bitmap_from_nm, csr_compress
from suite.context import KernelContext
from suite.errors import ParamError, Unsupported
from suite.registry import find_kernel, get_family, make_device


def test_detect_names_one_of_the_instruction_sets(monkeypatch):
    monkeypatch.delenv(isa.ENV, raising=False)
    assert isa.detect() == isa.hardware() in isa.ISAS


def test_environment_forces_a_narrower_one(monkeypatch):
    monkeypatch.setenv(isa.ENV, "generic")
    assert isa.detect() == "generic"
    assert isa.detect("generic") == "generic"


def test_numba_target_variables_count(monkeypatch):
    monkeypatch.setenv("NUMBA_CPU_FEATURES", "+avx2,+fma,-avx512f")
    assert isa.hardware() in ("avx2", "generic")
    monkeypatch.delenv("NUMBA_CPU_FEATURES")
    monkeypatch.setenv("NUMBA_CPU_NAME", "haswell")
    assert isa.hardware() != "avx512"


def test_a_wider_one_than_the_cpu_has_is_refused(monkeypatch):
    monkeypatch.setenv("NUMBA_CPU_FEATURES", "-avx512f,-avx2")
    with pytest.raises(ParamError, match="isa.*one of generic"):
        isa.detect("avx512")
    instance = get_family("spmm").instantiate({"shape": [8, 8], "n": 1, "pattern": "2:4"}, 0)
    ctx = KernelContext(device=make_device("cpu"), options={"isa": "avx512"})
    with pytest.raises(Unsupported, match="isa"):
        find_kernel("spmm", "nm-numba", "cpu").prepare(instance, instance.build_inputs(), ctx)


def _sparse(rows, k, density, seed=0):
    rng = np.random.default_rng(seed)
    return np.where(rng.random((rows, k)) < density, rng.standard_normal((rows, k)), 0.0)


def test_bitmap_holds_every_non_zero_in_position_order():
    w = _sparse(5, 70, 0.3).astype(np.float32)
    bm = bitmap_compress(w)
    assert bm.padded_k == 128 and bm.bits.shape == (5, 16)
    mask = np.unpackbits(bm.bits, axis=1, bitorder="little")[:, :70].astype(bool)
    np.testing.assert_array_equal(mask, w != 0)
    np.testing.assert_array_equal(bm.values[: bm.stored], w[w != 0])
    assert bm.values.size == bm.stored + PAD
    assert bm.format_bytes == bm.stored * 4 + 5 * 16 + 8 * 6


def test_bitmap_of_nm_keeps_exactly_n_slots_per_group():
    w = _sparse(3, 10, 0.2)
    w[:, 1::4] = 0
    w[:, 2::4] = 0
    w[:, 3::4] = 0  # at most one per group of 4: a valid 1:4 weight, with empty groups
    bm = bitmap_from_nm(nm_compress(w, 1, 4))
    assert list(np.diff(bm.rowptr)) == [3, 3, 3]         # G = ceil(10 / 4) slots per row
    dense = np.zeros((3, bm.padded_k))
    mask = np.unpackbits(bm.bits, axis=1, bitorder="little").astype(bool)
    dense[mask] = bm.values[: bm.stored]
    np.testing.assert_array_equal(dense[:, :10], w)


def test_csr_indices_are_narrow_and_splits_find_block_starts():
    w = _sparse(4, 300, 0.2).astype(np.float32)
    csr = csr_compress(w)
    assert csr.indices.dtype == np.uint16
    splits = csr.k_splits(64)
    assert splits.shape == (4, 6)                          # ceil(300 / 64) blocks + 1
    for r in range(4):
        cols = np.nonzero(w[r])[0]
        starts = [np.searchsorted(cols, b) for b in (0, 64, 128, 192, 256, 300)]
        np.testing.assert_array_equal(splits[r], starts)
    assert csr.format_bytes == csr.nnz * 6 + 8 * 5


def test_env_json_records_the_instruction_set(monkeypatch):
    from suite.environment import simd_info
    monkeypatch.setenv(isa.ENV, "generic")
    info = simd_info()
    assert info["spmm_isa"] == "generic"
    assert info["spmm_isa_hardware"] in isa.ISAS
