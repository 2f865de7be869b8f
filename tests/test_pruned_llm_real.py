"""The pruned-LLM family on the real SmolLM2-135M (skipped, with the reason, when the model
or the plays are not in the cache: ``run-suite fetch smollm2 plays``).

Magnitude 2:4 needs no calibration, so it prunes in seconds: every layer must be exactly
2:4 and its decode step through our N:M kernel must give the dense step's logits. Where
earlier runs left quality results in the cache, the papers' ordering must hold: Wanda and
SparseGPT far below magnitude in perplexity, at 50 % unstructured and at 2:4.
"""

import numpy as np
import pytest

from kernels.pruning.masks import mask_violations
from suite.workloads.pruned_llm import TOLERANCE
from suite.workloads.pruned_llm_model import PruneSpec, pruned_model
from suite.workloads.spmm_patterns import parse_pattern

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cached():
    from suite.data.fetch import is_cached

    missing = [name for name in ("smollm2", "plays") if not is_cached(name)]
    if missing:
        pytest.skip(f"not in the cache: {', '.join(missing)} (run-suite fetch "
                    f"{' '.join(missing)})")


def test_magnitude_2_4_smollm2_decodes_through_nm_numba_like_dense(cached):
    from kernels.pruning.backends import layer_kernels
    from suite.data.llama import column_linear
    from suite.devices import CpuDevice
    from suite.workloads.pruned_llm_decode import build_cache, decode_step

    pruned = pruned_model(PruneSpec("smollm2", "magnitude", "2:4"))
    pattern = parse_pattern("2:4")
    assert all(mask_violations(m, pattern) == [] for m in pruned.masks.values())
    layers = layer_kernels("nm-numba", pruned, 1, "2:4", CpuDevice("cpu"))
    model = pruned.model.with_linears({n: column_linear(p.run) for n, p in layers.items()})
    contexts = np.arange(100, 132)[None, :]
    cache = build_cache(pruned.model, contexts)
    expected = decode_step(pruned.model, np.array([7]), cache)
    got = decode_step(model, np.array([7]), cache)
    assert np.linalg.norm(got - expected) <= TOLERANCE * np.linalg.norm(expected)


@pytest.mark.parametrize("pattern", ["unstructured(0.5)", "2:4"])
def test_wanda_and_sparsegpt_beat_magnitude_where_measured(cached, pattern):
    from suite.data.cache import derived_path
    from suite.workloads.pruned_llm_quality import EVAL_CONTEXT, QUALITY_VERSION, model_quality

    found = {}
    for method in ("magnitude", "wanda", "sparsegpt"):
        spec = PruneSpec("smollm2", method, pattern)
        key = {"pruned": spec.key(), "eval_tokens": 4096, "eval_context": EVAL_CONTEXT,
               "cloze_items": 32, "code": QUALITY_VERSION}
        if not derived_path("pruned-llm-quality", key).exists():
            pytest.skip(f"no cached quality for {method} {pattern} (run the standard suite)")
        found[method] = model_quality(pruned_model(spec), 4096, 32)["perplexity"]
    assert found["wanda"] < 0.5 * found["magnitude"]
    assert found["sparsegpt"] < 0.5 * found["magnitude"]
