"""The real artifacts, where they are cached: SmolLM2-135M, SPLADE-tiny, the plays.

Each test skips, with the reason, when its artifact is not in the cache (``run-suite
fetch`` brings them); derived arrays go to a temporary cache so the user's stays as it was.
"""

import numpy as np
import pytest

from suite.context import KernelContext
from suite.data.cache import cache_root
from suite.data.fetch import is_cached
from suite.data.models import SMOLLM2_CONFIG
from suite.registry import find_kernel, get_family, make_device

REAL_ARTIFACTS = cache_root() / "artifacts"


def needs(*names):
    missing = [n for n in names if not is_cached(n)]
    return pytest.mark.skipif(bool(missing), reason=f"{', '.join(missing)} not cached in "
                              f"{cache_root()} (run-suite fetch {' '.join(missing)})")


@pytest.fixture(autouse=True)
def derived_in_tmp(tmp_path, monkeypatch):
    """A fresh cache whose artifacts are the real ones (a link), derived files in tmp."""
    (tmp_path / "cache").mkdir()
    if REAL_ARTIFACTS.exists():
        (tmp_path / "cache" / "artifacts").symlink_to(REAL_ARTIFACTS)
    monkeypatch.setenv("SPARSECAP_CACHE", str(tmp_path / "cache"))


@needs("smollm2", "plays")
def test_smollm2_loads_as_its_declared_config_and_predicts_shakespeare():
    from suite.data.llama_load import read_config
    from suite.data.models import llama_model, model_path, split_ids
    from suite.data.perplexity import perplexity

    assert read_config(model_path("smollm2")) == SMOLLM2_CONFIG
    model = llama_model("smollm2")
    assert model.parameter_count == 134_515_008
    result = perplexity(model, split_ids("smollm2", "evaluation"), context=256,
                        max_tokens=2 * 255)
    assert result.tokens == 510 and 10 < result.perplexity < 100


@needs("smollm2", "plays")
def test_real_qkv_have_smollm2s_heads():
    from suite.data.capture import capture_qkv

    qkv = capture_qkv("smollm2", layers=[0, 12], tokens=64)
    assert qkv[12].q.shape == (9, 64, 64) and qkv[12].k.shape == (3, 64, 64)
    assert np.isfinite(qkv[0].v).all()


@needs("smollm2", "plays")
def test_spmm_runs_on_smollm2_layer12_mlp_up():
    instance = get_family("spmm").instantiate(
        {"weights": "smollm2.layer12.mlp-up", "n": 128, "pattern": "2:4"}, 0)
    inputs = instance.build_inputs()
    assert inputs.weight.shape == (1536, 576) and inputs.x.shape == (576, 128)
    ctx = KernelContext(device=make_device("cpu"))
    for kernel in ("dense", "nm-numba"):
        prep = find_kernel("spmm", kernel, "cpu").prepare(instance, inputs, ctx)
        out = prep.to_host(prep.run(inputs.x))
        assert instance.check(out, instance.reference(inputs, inputs.x), inputs, prep).valid


@needs("splade-tiny", "plays")
def test_splade_tiny_is_sparse_and_finds_known_items():
    from suite.data.splade import load_splade
    from suite.data.text import known_item_queries, passages

    items = passages()[::200][:50]
    pairs = known_item_queries(items)
    encoder = load_splade()
    docs = encoder.encode([p.text for p in items])
    queries = encoder.encode([q for q, _ in pairs])
    nnz = np.diff(queries.indptr)
    assert 10 <= np.median(nnz) <= 100  # tens of non-zeros per short text
    scores = (queries @ docs.T).toarray()
    target = np.array([i for _, i in pairs])
    diagonal = scores[np.arange(len(pairs)), target]
    assert (scores.argmax(axis=1) == target).mean() >= 0.9
    assert diagonal.mean() >= 3 * scores.mean()


@needs("plays")
def test_the_real_plays_split_as_documented():
    from suite.data.text import SPLITS, passages, split_text

    sizes = {s: len(split_text(s)) for s in SPLITS}
    assert sizes["evaluation"] > 250_000 and sizes["calibration"] > 400_000
    assert len(passages()) > 10_000
