"""The numpy SmolLM2 forward pass against an independent one: transformers' GGUF loader.

Needs the optional ``transformers`` extra (torch, transformers, accelerate) and SmolLM2 in
the cache; skips with the reason otherwise. Measured on the machine it was written on:
max |logit difference| 1.3e-4 over 300 tokens (3.2e-6 of the largest logit), identical
argmax at every position, identical token ids.
"""

import importlib.util
import os

import numpy as np
import pytest

from suite.data.fetch import is_cached

TOKENS = 300
MISSING = [m for m in ("torch", "transformers", "accelerate") if importlib.util.find_spec(m)
           is None]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(MISSING), reason=f"needs {', '.join(MISSING)} "
                       "(pip install -e '.[transformers]')"),
    pytest.mark.skipif(not (is_cached("smollm2") and is_cached("plays")),
                       reason="smollm2 or plays not cached (run-suite fetch smollm2 plays)"),
]


@pytest.fixture(scope="module")
def reference():
    """transformers' model and tokenizer, loaded from the cached GGUF file (no hub)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from suite.data.models import model_path

    path = model_path("smollm2")
    kwargs = {"gguf_file": path.name}
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), **kwargs)
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), dtype=torch.float32,
                                                 **kwargs).eval()
    return torch, model, tokenizer


def test_token_ids_match_transformers(reference):
    from suite.data.models import llama_tokenizer
    from suite.data.text import split_text

    _, _, tokenizer = reference
    sample = split_text("evaluation")[:20_000]
    assert llama_tokenizer("smollm2").encode(sample) == tokenizer(sample)["input_ids"]


def test_logits_match_transformers_within_float32_tolerance(reference):
    from suite.data.models import llama_model, split_ids

    torch, model, _ = reference
    ids = np.asarray(split_ids("smollm2", "evaluation")[:TOKENS])
    with torch.no_grad():
        expected = model(torch.tensor(ids[None])).logits[0].numpy()
    got = llama_model("smollm2").forward(ids)
    diff = np.abs(got - expected)
    print(f"\nmax abs {diff.max():.3g}, max rel {diff.max() / np.abs(expected).max():.3g}, "
          f"argmax agreement {(got.argmax(1) == expected.argmax(1)).mean():.4f}")
    assert diff.max() <= 1e-3 and diff.max() <= 2e-5 * np.abs(expected).max()
    assert (got.argmax(1) == expected.argmax(1)).mean() == 1.0
