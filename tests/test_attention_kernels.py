"""The dense attention kernels against a naive float64 softmax, and the building blocks'
edge cases: a fully masked row gives zeros (never NaN), the exp2 polynomial's accuracy,
GQA, head dims below 64, several sequences, decode with several queries."""

from __future__ import annotations

import numpy as np
import pytest

from tests.test_attention_rules import Inputs, instance, make_batch, run

pytest.importorskip("numba")


def naive(batch):
    """float64 causal softmax attention, every head."""
    q, k, v = (x.astype(np.float64) for x in (batch.q, batch.k, batch.v))
    s = np.einsum("bhid,bhjd->bhij", q, np.repeat(k, batch.group, axis=1)) / np.sqrt(q.shape[-1])
    s = np.where(np.arange(k.shape[2])[None] <= batch.q_pos[:, None], s, -np.inf)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    return np.einsum("bhij,bhjd->bhid", p / p.sum(axis=-1, keepdims=True),
                     np.repeat(v, batch.group, axis=1))


CASES = [dict(length=200), dict(length=1, budget=1), dict(length=130, head_dim=16),
         dict(length=97, batch=2, heads=6, kv_heads=3), dict(length=64, head_dim=48)]


@pytest.mark.parametrize("kernel", ["flash", "dense"])
@pytest.mark.parametrize("case", CASES)
def test_dense_prefill_matches_naive_float64(kernel, case):
    inst = instance(**case)
    batch = make_batch(inst, seed=3, scale=2.0)
    out = run(kernel, inst, batch)
    np.testing.assert_allclose(np.asarray(out.out), naive(batch), rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("queries", [1, 4])
def test_dense_decode_matches_naive_float64(queries):
    inst = instance("decode", length=700, queries=queries)
    batch = make_batch(inst, seed=4, scale=2.0)
    out = run("flash", inst, batch)
    np.testing.assert_allclose(out.out, naive(batch), rtol=2e-4, atol=2e-5)


def test_sdpa_peer_matches_naive_float64():
    pytest.importorskip("torch")
    inst = instance(length=150)
    batch = make_batch(inst, seed=5)
    out = run("sdpa", inst, batch)
    np.testing.assert_allclose(out.out.numpy(), naive(batch), rtol=2e-4, atol=2e-5)


def test_a_fully_masked_row_gives_zeros_not_nan():
    from kernels.attention import cpu_blocks, layout

    batch = make_batch(instance(length=128), seed=6)
    qt = np.ascontiguousarray(layout.scaled_queries(batch.q)[0, 0, :64])
    kT, vp = layout.keys_transposed(batch.k)[0, 0], layout.padded(batch.v)[0, 0]
    s, acc, m, den, hi, lo = cpu_blocks.new_state(64, 32)
    hi[:] = np.arange(64)
    hi[5] = -1  # row 5 may see no key at all
    cpu_blocks.attend_blocks(qt, 64, kT, vp, np.array([0, 1]), 2, hi, lo, 0, s, acc, m, den)
    out = np.zeros((1, 1, 64, 32), np.float32)
    cpu_blocks.finish_rows(acc, den, out, 0, 0, 1, 0, 64)
    assert np.all(out[0, 0, 5] == 0) and np.all(np.isfinite(out))
    np.testing.assert_allclose(out[0, 0, 6], naive(batch)[0, 0, 6], rtol=2e-4, atol=2e-5)


def test_attending_to_no_key_gives_zeros():
    from kernels.attention import cpu_lists

    row = np.ones(32, np.float32)
    keys = np.zeros(0, np.int64)
    cpu_lists.attend_row(np.ones(32, np.float32), np.ones((4, 32), np.float32),
                         np.ones((4, 32), np.float32), keys, 0, row)
    assert np.all(row == 0)


def test_exp2_polynomial_is_accurate_and_flushes_below_the_floor():
    import numba

    from kernels.attention import cpu_tiles

    @numba.njit
    def rows(x):  # intrinsics are callable from compiled code only
        totals = np.zeros(x.shape[0], np.float32)
        peaks = np.zeros(x.shape[0], np.float32)
        for r in range(x.shape[0]):
            peaks[r] = cpu_tiles.row_max64(x, r)
            totals[r] = cpu_tiles.exp2_row64(x, r, np.float32(0.0))
        return totals, peaks

    x = np.linspace(-130, 0, 64 * 40).astype(np.float32).reshape(40, 64)
    got = x.copy()
    totals, peaks = rows(got)
    want = np.where(x > -126, 2.0 ** x.astype(np.float64), 0.0)
    np.testing.assert_allclose(got, want, rtol=3e-7, atol=1e-38)
    np.testing.assert_allclose(totals, want.sum(axis=1), rtol=1e-5)
    np.testing.assert_array_equal(peaks, x.max(axis=1))


def test_the_best_dense_says_which_implementation_won():
    from kernels.attention.dense_best import candidates

    inst = instance(length=128)
    batch = make_batch(inst)
    spec_out = run("dense", inst, batch)
    assert spec_out.out.shape == batch.q.shape
    assert "flash" in candidates(inst)


def test_inputs_helper_has_calibration_for_layer_zero():
    batch = make_batch(instance())
    assert 0 in Inputs(batch).calibration
