"""Each sparse attention method's selection against a brute-force numpy version of its own
rule, on small seeded inputs: the kept sets are equal and the outputs match exact float64
attention over them. Edge cases: k >= L, window >= L, all-equal scores, L = 1."""

from __future__ import annotations

import numpy as np
import pytest

from kernels.attention import calibrate
from suite import registry
from suite.context import KernelContext
from suite.registry import make_device
from suite.workloads.attention_batch import AttentionBatch, kept_mask

pytest.importorskip("numba")
registry.load_plugins()


def instance(phase="prefill", length=200, budget=40, **extra):
    params = {"phase": phase, "length": length, "budget": budget, "heads": 4, "kv_heads": 2,
              "head_dim": 32, "sample_rows": 1000, "layers": [0], **extra}
    return registry.get_family("attention").instantiate(params, 0)


def make_batch(inst, seed=0, scale=1.0, zero_q=False):
    s = inst.shape
    rng = np.random.default_rng(seed)
    pos = inst.query_positions
    q = (rng.standard_normal((s.batch, s.heads, len(pos), s.head_dim)) * scale).astype(np.float32)
    if zero_q:
        q[:] = 0
    k, v = (rng.standard_normal((s.batch, s.kv_heads, s.length, s.head_dim)).astype(np.float32)
            for _ in range(2))
    return AttentionBatch(q, k, v, pos, np.arange(len(pos)), 0)


class Inputs:
    """Layer 0 and its calibration data are the batch itself (the tests pin the rule, not
    the calibration); decode queries are padded in front to a prefill-shaped Q."""

    def __init__(self, batch):
        n_b, n_h, n_q, d = batch.q.shape
        q = np.zeros((n_b, n_h, batch.k.shape[2], d), np.float32)
        q[:, :, -n_q:] = batch.q
        self.layers = {0: (q, batch.k, batch.v)}
        self.calibration = {0: (batch.q, batch.k, batch.v)}
        self.w_o = None


def run(kernel, inst, batch):
    spec = registry.find_kernel("attention", kernel, "cpu")
    prepared = spec.prepare(inst, Inputs(batch), KernelContext(device=make_device("cpu")))
    return prepared.run(prepared.put(batch))


def scores32(batch, b, h):
    """float32 scores of head h in the kernels' (log2-scaled) domain, causal -inf."""
    q = batch.q[b, h] * np.float32(np.log2(np.e) / np.sqrt(batch.q.shape[-1]))
    s = q @ batch.k[b, h // batch.group].T
    return np.where(np.arange(s.shape[1])[None] <= batch.q_pos[:, None], s, -np.inf)


def top_k_rule(s, k):
    """Stable order: ties go to the lower key."""
    mask = np.zeros(s.shape, bool)
    for i, row in enumerate(s):
        n = int(np.isfinite(row).sum())
        mask[i, np.argsort(-row[:n], kind="stable")[:min(k, n)]] = True
    return mask


def exact_over(batch, b, h, mask):
    s = batch.q[b, h].astype(np.float64) @ batch.k[b, h // batch.group].T.astype(np.float64)
    s = np.where(mask, s / np.sqrt(batch.q.shape[-1]), -np.inf)
    p = np.exp(s - s.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)) @ batch.v[b, h // batch.group].astype(np.float64)


def assert_rule(out, batch, rule):
    """Kept masks equal ``rule(b, h)`` and outputs match exact attention over them."""
    for b in range(batch.q.shape[0]):
        for h in range(batch.q.shape[1]):
            want = rule(b, h)
            got = kept_mask(out.kept, batch, b, h)[:, :batch.k.shape[2]]
            assert np.array_equal(got, want), f"head {h}: masks differ"
            np.testing.assert_allclose(out.out[b, h], exact_over(batch, b, h, want),
                                       rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_top_k_is_the_k_best_exact_scores(phase):
    inst = instance(phase, queries=1 if phase == "prefill" else 3)
    batch = make_batch(inst)
    assert_rule(run("top-k", inst, batch), batch,
                lambda b, h: top_k_rule(scores32(batch, b, h), 40))


def test_top_k_with_k_at_least_length_is_dense():
    inst = instance(budget=500)
    batch = make_batch(inst, seed=1)
    causal = lambda b, h: np.isfinite(scores32(batch, b, h))  # noqa: E731
    assert_rule(run("top-k", inst, batch), batch, causal)


def test_all_equal_scores_keep_the_lowest_keys():
    inst = instance()
    batch = make_batch(inst, zero_q=True)
    first = lambda b, h: top_k_rule(np.where(np.isfinite(scores32(batch, b, h)), 0.0,  # noqa: E731
                                             -np.inf), 40)
    out = run("top-k", inst, batch)
    assert_rule(out, batch, first)
    assert kept_mask(out.kept, batch, 0, 0)[-1, :40].all()


@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_window_keeps_sinks_and_the_recent_keys(phase):
    inst = instance(phase, queries=1 if phase == "prefill" else 2)
    batch = make_batch(inst, seed=2)
    keys, pos = np.arange(batch.k.shape[2])[None], batch.q_pos[:, None]
    rule = (keys <= pos) & ((keys < 4) | (keys > pos - 36))
    assert_rule(run("window", inst, batch), batch, lambda b, h: rule)


def test_window_at_least_length_is_dense():
    inst = instance(length=150, budget=400)
    batch = make_batch(inst, seed=3)
    causal = np.arange(150)[None] <= batch.q_pos[:, None]
    assert_rule(run("window", inst, batch), batch, lambda b, h: causal)


def block_rule(batch, n_blocks, b, h):
    """Pooled scores: mean q of each 64-query block . mean k of each 64-key block; block 0
    and the diagonal forced; then the best others (stable)."""
    q, k = batch.q[b, h].astype(np.float64), batch.k[b, h // batch.group].astype(np.float64)
    length = k.shape[0]
    k_mean = np.stack([k[c:c + 64].mean(axis=0) for c in range(0, length, 64)])
    mask = np.zeros((q.shape[0], length), bool)
    for a in range(0, q.shape[0], 64):
        diag = int(batch.q_pos[a]) // 64
        order = np.argsort(-(k_mean[:diag + 1] @ q[a:a + 64].mean(axis=0)), kind="stable")
        keep = [0, diag] + [c for c in order if c not in (0, diag)]
        for c in keep[:max(n_blocks, 1)]:
            mask[a:a + 64, c * 64:(c + 1) * 64] = True
    return mask & (np.arange(length)[None] <= batch.q_pos[:, None])


def test_block_sparse_prefill_keeps_the_pooled_top_blocks():
    inst = instance(length=300, budget=128)
    batch = make_batch(inst, seed=4, scale=3.0)
    assert_rule(run("block-sparse", inst, batch), batch,
                lambda b, h: block_rule(batch, 2, b, h))


def quest_rule(batch, n_pages, page, b, h):
    """Upper bound sum_d max(q_d max_d, q_d min_d) per page, summed over the KV group's
    query heads; the query's page forced."""
    g = h // batch.group
    k = batch.k[b, g].astype(np.float64)
    mask = np.zeros((batch.q.shape[2], k.shape[0]), bool)
    for i, pos in enumerate(batch.q_pos):
        pages = range(0, int(pos) + 1, page)
        bound = sum(np.array([np.maximum(q * k[c:c + page].max(0), q * k[c:c + page].min(0)).sum()
                              for c in pages])
                    for q in batch.q[b, g * batch.group:(g + 1) * batch.group, i].astype(np.float64))
        own = int(pos) // page
        order = [c for c in np.argsort(-bound, kind="stable") if c != own]
        for c in [own, *order][:n_pages]:
            mask[i, c * page:min((c + 1) * page, pos + 1)] = True
    return mask


def test_quest_decode_keeps_the_pages_of_highest_bound():
    inst = instance("decode", length=300, budget=48, queries=3)
    batch = make_batch(inst, seed=5, scale=2.0)
    assert_rule(run("block-sparse", inst, batch), batch,
                lambda b, h: quest_rule(batch, 3, 16, b, h))


@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_double_sparsity_is_top_k_on_the_heavy_channels(phase):
    inst = instance(phase, queries=1 if phase == "prefill" else 2)
    batch = make_batch(inst, seed=6)
    chans = calibrate.heavy_channels(batch.q, batch.k, 8)

    def rule(b, h):
        g = h // batch.group
        q = batch.q[b, h][:, chans[g]] * np.float32(np.log2(np.e) / np.sqrt(32))
        s = q @ batch.k[b, g][:, chans[g]].T
        return top_k_rule(np.where(np.arange(s.shape[1])[None] <= batch.q_pos[:, None], s,
                                   -np.inf), 40)

    assert_rule(run("double-sparsity", inst, batch), batch, rule)


def test_top_theta_keeps_the_keys_above_the_calibrated_threshold():
    inst = instance()
    batch = make_batch(inst, seed=7)
    table = calibrate.extend(calibrate.theta_table(batch.q, batch.k, 40), 200)
    out = run("top-theta", inst, batch)
    for h in range(batch.q.shape[1]):
        s = scores32(batch, 0, h)
        n = batch.q_pos + 1
        theta = np.where(n <= 40, -np.inf, table[h][np.minimum((2 * np.log2(n)).astype(int),
                                                              table.shape[1] - 1)])
        want = (s >= theta[:, None]) & np.isfinite(s)
        got = kept_mask(out.kept, batch, 0, h)[:, :200]
        with np.errstate(invalid="ignore"):  # -inf - -inf on rows that keep all
            near = np.abs(s - theta[:, None]) < 1e-4  # float32 rounding at the boundary
        assert np.array_equal(got | near, want | near)
        np.testing.assert_allclose(out.out[0, h], exact_over(batch, 0, h, got), rtol=1e-4,
                                   atol=1e-5)


@pytest.mark.parametrize("kernel", ["window", "block-sparse", "top-k", "top-theta",
                                    "double-sparsity"])
def test_a_single_token_attends_to_itself(kernel):
    inst = instance(length=1, budget=1)
    batch = make_batch(inst)
    out = run(kernel, inst, batch)
    np.testing.assert_allclose(out.out[0, :, 0], batch.v[0, [0, 0, 1, 1], 0], rtol=1e-5)
