"""The N:M format: compress/decompress round trips, padding, and refusing non-N:M input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.spmm.formats import nm_compress, nm_decompress
from suite.errors import ParamError
from suite.workloads.spmm_patterns import Pattern, make_mask


def nm_weight(rows, k, n, m, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    dense = rng.standard_normal((rows, k))
    mask = make_mask(dense, Pattern("nm", n / m, n=n, m=m), "magnitude", rng)
    return np.where(mask, dense, 0).astype(dtype)


def test_2_4_layout_matches_sparse_tensor_cores():
    w = np.array([[1.0, 0, 0, 2, 0, 3, 0, 0]], dtype=np.float32)
    nm = nm_compress(w, 2, 4)
    # In each group, kept slots in position order; the short second group gets a zero
    # at an unused position (0), so indices stay distinct and ascending.
    assert nm.values.tolist() == [[1.0, 2.0, 0.0, 3.0]]
    assert nm.indices.dtype == np.uint8
    assert nm.indices.tolist() == [[0, 3, 0, 1]]
    assert nm.format_bytes == 4 * 4 + 4


def test_k_not_a_multiple_of_m_is_zero_padded():
    w = nm_weight(3, 10, 1, 4)
    nm = nm_compress(w, 1, 4)
    assert nm.values.shape == (3, 3)                         # G = ceil(10 / 4)
    np.testing.assert_array_equal(nm_decompress(nm), w)


def test_round_trip_keeps_dtype():
    for dtype in (np.float16, np.float32, np.float64):
        w = nm_weight(8, 16, 2, 8, dtype=dtype)
        back = nm_decompress(nm_compress(w, 2, 8))
        assert back.dtype == dtype
        np.testing.assert_array_equal(back, w)


def test_rejects_a_group_with_too_many_non_zeros():
    w = nm_weight(4, 8, 2, 4)
    w[2, 4:8] = 1.0
    with pytest.raises(ParamError, match=r"row 2, group 1 has 4 non-zeros.*n=2"):
        nm_compress(w, 2, 4)


@pytest.mark.parametrize("n, m", [(0, 4), (5, 4), (1, 300)])
def test_rejects_bad_n_or_m(n, m):
    with pytest.raises(ParamError):
        nm_compress(np.zeros((2, 8), np.float32), n, m)


def test_rejects_non_matrix():
    with pytest.raises(ParamError, match="2-D"):
        nm_compress(np.zeros(8, np.float32), 1, 4)


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 6), k=st.integers(1, 40), m=st.integers(1, 9),
       data=st.data())
def test_round_trip_property(rows, k, m, data):
    n = data.draw(st.integers(1, m))
    seed = data.draw(st.integers(0, 2**16))
    w = nm_weight(rows, k, n, m, seed=seed)
    w[np.random.default_rng(seed).random(w.shape) < 0.2] = 0   # some short groups
    nm = nm_compress(w, n, m)
    assert nm.values.shape == (rows, -(-k // m) * n)
    assert int(nm.indices.max(initial=0)) < m
    np.testing.assert_array_equal(nm_decompress(nm), w)
    # absolute columns: every stored non-zero sits where the dense matrix has it
    cols = nm.columns()
    r, s = np.nonzero(nm.values)
    np.testing.assert_array_equal(w[r, cols[r, s]], nm.values[r, s])
