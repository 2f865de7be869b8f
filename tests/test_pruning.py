"""Pruning methods against their definitions, on seeded matrices small enough to brute-force.

Magnitude and Wanda masks are compared with the definitions written out (sort each
comparison group, keep the top); every method's mask must realise its pattern and density
exactly; SparseGPT must reconstruct a layer's output better than Wanda on the same data.
"""

import itertools

import numpy as np
import pytest

from kernels.pruning.magnitude import magnitude_mask
from kernels.pruning.masks import keep_mask, kept_per_group, mask_violations
from kernels.pruning.sparsegpt import inverse_cholesky, sparsegpt_prune
from kernels.pruning.stats import InputStats
from kernels.pruning.wanda import wanda_mask, wanda_scores
from suite.workloads.spmm_patterns import parse_pattern

PATTERNS = ["unstructured(0.5)", "unstructured(0.4)", "unstructured(0.3)",
            "unstructured(0.2)", "2:4", "4:8", "1:4"]


def layer(seed=0, rows=24, cols=64, tokens=256):
    """A weight and inputs with correlated features and a few outlier channels (as LLMs)."""
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((rows, cols)).astype(np.float32)
    mix = rng.standard_normal((cols, cols)) / np.sqrt(cols) + np.eye(cols)
    x = rng.standard_normal((tokens, cols)) @ mix
    x[:, rng.choice(cols, 4, replace=False)] *= 8.0
    return weight, x.astype(np.float32)


def brute_force_keep(scores, pattern, group):
    """The definition: sort each comparison group, keep its best ``round(d * size)``."""
    mask = np.zeros(scores.shape, dtype=bool)
    if pattern.kind == "nm":
        for r, g in itertools.product(range(scores.shape[0]), range(0, scores.shape[1],
                                                                    pattern.m)):
            cols = np.arange(g, min(g + pattern.m, scores.shape[1]))
            best = max(itertools.combinations(cols, min(pattern.n, cols.size)),
                       key=lambda keep: scores[r, list(keep)].sum())
            mask[r, list(best)] = True
        return mask
    flat_groups = [np.arange(scores.size)] if group == "layer" else [
        np.arange(r * scores.shape[1], (r + 1) * scores.shape[1]) for r in range(scores.shape[0])]
    for members in flat_groups:
        order = members[np.argsort(-scores.ravel()[members], kind="stable")]
        mask.ravel()[order[:int(round(pattern.density * members.size))]] = True
    return mask


@pytest.mark.parametrize("label", PATTERNS)
def test_magnitude_keeps_the_largest_weights_of_each_layer(label):
    weight, _ = layer()
    pattern = parse_pattern(label)
    expected = brute_force_keep(np.abs(weight), pattern, "layer")
    np.testing.assert_array_equal(magnitude_mask(weight, pattern), expected)


@pytest.mark.parametrize("label", PATTERNS)
def test_wanda_keeps_the_best_weight_times_input_norm_of_each_row(label):
    weight, x = layer(1)
    pattern = parse_pattern(label)
    norms = np.array([np.sqrt(sum(float(v) ** 2 for v in x[:, j])) for j in range(x.shape[1])])
    scores = np.array([[abs(float(weight[i, j])) * norms[j] for j in range(weight.shape[1])]
                       for i in range(weight.shape[0])])
    np.testing.assert_allclose(wanda_scores(weight, (x.astype(np.float64) ** 2).sum(0)), scores,
                               rtol=1e-10)
    expected = brute_force_keep(scores, pattern, "row")
    np.testing.assert_array_equal(wanda_mask(weight, (x.astype(np.float64) ** 2).sum(0),
                                             pattern), expected)


@pytest.mark.parametrize("label", PATTERNS)
def test_every_method_realises_its_pattern_and_density_exactly(label):
    weight, x = layer(2)
    pattern = parse_pattern(label)
    stats = InputStats(x.shape[1])
    stats.add(x)
    masks = {"magnitude": (magnitude_mask(weight, pattern), "layer"),
             "wanda": (wanda_mask(weight, stats.sq_sum, pattern), "row")}
    pruned, sgpt_mask = sparsegpt_prune(weight, stats.hessian(), pattern, block=16)
    assert not np.any(pruned[~sgpt_mask]), "pruned weights must be zero"
    for name, (mask, group) in masks.items():
        assert mask_violations(mask, pattern, group) == [], name
    if pattern.kind == "nm":
        assert mask_violations(sgpt_mask, pattern) == []
    else:  # SparseGPT compares within each column block of 16: exact per block
        for start in range(0, weight.shape[1], 16):
            block = sgpt_mask[:, start:start + 16]
            assert block.sum() == kept_per_group(pattern, block.shape, "layer")


def test_a_short_last_group_keeps_at_most_n():
    scores = np.arange(2 * 10, dtype=float).reshape(2, 10)
    mask = keep_mask(scores, parse_pattern("2:4"))
    assert mask[:, 8:].all() and mask.sum() == 2 * (2 + 2 + 2)
    assert mask_violations(mask, parse_pattern("2:4")) == []
    assert mask_violations(np.ones((2, 8), bool), parse_pattern("2:4"))[0].startswith("a group")


@pytest.mark.parametrize("label", ["unstructured(0.5)", "2:4", "unstructured(0.3)"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparsegpt_reconstructs_the_layer_output_better_than_wanda(label, seed):
    weight, x = layer(seed, rows=32, cols=256, tokens=768)
    pattern = parse_pattern(label)
    stats = InputStats(x.shape[1])
    stats.add(x)
    wanda = np.where(wanda_mask(weight, stats.sq_sum, pattern), weight, 0)
    sgpt, _ = sparsegpt_prune(weight, stats.hessian(), pattern)
    x64, w64 = x.astype(np.float64), weight.astype(np.float64)

    def error(w):
        return np.linalg.norm(x64 @ w64.T - x64 @ w.astype(np.float64).T)

    assert error(sgpt) < error(wanda)


def test_sparsegpt_leaves_a_dense_pattern_alone_and_prunes_dead_inputs():
    weight, x = layer(3)
    x[:, 5] = 0.0
    stats = InputStats(x.shape[1])
    stats.add(x)
    same, mask = sparsegpt_prune(weight, stats.hessian(), parse_pattern("dense"))
    assert mask.all()
    np.testing.assert_allclose(np.delete(same, 5, axis=1), np.delete(weight, 5, axis=1),
                               rtol=1e-6)
    assert not same[:, 5].any()


def test_inverse_cholesky_is_the_upper_factor_of_the_damped_inverse():
    _, x = layer(4)
    h = 2 * x.astype(np.float64).T @ x / len(x)
    u = inverse_cholesky(h, damp=0.01)
    damped = h + 0.01 * np.mean(np.diag(h)) * np.eye(len(h))
    np.testing.assert_allclose(u.T @ u, np.linalg.inv(damped), rtol=1e-6, atol=1e-9)
    assert np.allclose(u, np.triu(u))


def test_input_stats_accumulate_over_batches():
    _, x = layer(5)
    stats = InputStats(x.shape[1])
    stats.add(x[:100])
    stats.add(x[100:])
    x64 = x.astype(np.float64)
    expected = 2 * x64.T @ x64 / len(x)
    np.testing.assert_allclose(stats.hessian(), expected, atol=1e-6 * np.abs(expected).max())
    np.testing.assert_allclose(stats.sq_sum, (x64 ** 2).sum(0), rtol=1e-6)
    with pytest.raises(ValueError, match="tokens x 64"):
        stats.add(x[:, :3])
