"""The pruned-LLM family on a tiny two-layer Llama written in the test (no real model needed).

The decode step over a KV cache must give the full forward pass's last logits; each
backend (CSR, N:M) must give the dense forward pass's logits on the same pruned weights
within float32 tolerance; a whole suite runs through the harness, caches its pruned
models on disk and writes the family's table. The real SmolLM2 runs in
tests/test_pruned_llm_real.py (skipped when it is not cached).
"""

import numpy as np
import pytest

from suite.config import parse_suite
from suite.data import text
from suite.data.llama import LlamaModel, column_linear
from suite.data.tiny import TINY_LLAMA, tiny_llama_weights, write_tiny_gguf, write_tiny_plays
from suite.errors import UserError
from suite.plan import make_plan
from suite.records import read_records
from suite.runner import RECORDS_FILE, run_plan
from suite.workloads import pruned_llm_model
from suite.workloads.pruned_llm import parse_phase
from suite.workloads.pruned_llm_decode import build_cache, decode_step, prefill_logits
from suite.workloads.pruned_llm_model import PruneSpec, pruned_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny GGUF model and a stand-in for the plays, in a cache of the module's own."""
    tmp = tmp_path_factory.mktemp("pruned-llm")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPARSECAP_CACHE", str(tmp / "cache"))
        folder = write_tiny_plays(tmp / "plays")
        patch.setattr(text, "plays_folder", lambda: folder)
        write_tiny_gguf(tmp / "tiny.gguf")
        pruned_llm_model.forget()
        yield str(tmp / "tiny.gguf")
        pruned_llm_model.forget()


@pytest.fixture(scope="module")
def suite_run(tiny, tmp_path_factory):
    """One harness run of ``SUITE`` on the tiny model: (run folder, records)."""
    out = tmp_path_factory.mktemp("run") / "run"
    cfg = parse_suite(SUITE.format(model=tiny), "tiny-pruned.yaml")
    run_plan(make_plan(cfg), cfg, out)
    return out, read_records(out / RECORDS_FILE)


def test_a_decode_step_over_the_cache_is_the_full_forward_pass():
    model = LlamaModel(TINY_LLAMA, tiny_llama_weights())
    rng = np.random.default_rng(0)
    contexts = rng.integers(0, TINY_LLAMA.vocab_size, size=(3, 12))
    tokens = rng.integers(0, TINY_LLAMA.vocab_size, size=3)
    cache = build_cache(model, contexts)
    first = decode_step(model, tokens, cache)
    decode_step(model, tokens[::-1].copy(), cache)  # another call writes the same slot
    np.testing.assert_array_equal(decode_step(model, tokens, cache), first)
    for s in range(3):
        full = model.forward(np.append(contexts[s], tokens[s]))[-1]
        np.testing.assert_allclose(first[s], full, atol=1e-4 * np.abs(full).max())
        np.testing.assert_allclose(prefill_logits(model, np.append(contexts[s], tokens[s])),
                                   full, atol=1e-5 * np.abs(full).max())


@pytest.mark.parametrize("text_in, label", [("decode(8, 256)", "decode(8,256)"),
                                           ("prefill(512)", "prefill(512)")])
def test_phases_parse_to_their_label(text_in, label):
    assert parse_phase(text_in).label == label


@pytest.mark.parametrize("bad", ["decode(8)", "prefill(1,2)", "decode(0,4)", "prefill(99999)",
                                 "train(3)"])
def test_a_bad_phase_says_what_is_allowed(bad):
    with pytest.raises(ValueError, match="decode\\(BATCH,CONTEXT\\)"):
        parse_phase(bad)


SUITE = """
name: tiny-pruned
defaults: {{warmup: 0, min_repeats: 2, max_repeats: 2, min_time_s: 0.0}}
workloads:
  - family: pruned-llm
    grid: {{model: ["{model}"], method: [dense], pattern: [dense], phase: ["decode(2,16)"],
            calib_tokens: [96], eval_tokens: [48], cloze_items: [1]}}
  - family: pruned-llm
    grid: {{model: ["{model}"], method: [magnitude, wanda, sparsegpt],
            pattern: ["unstructured(0.5)", "2:4"], phase: ["decode(2,16)"],
            calib_tokens: [96], eval_tokens: [48], cloze_items: [1]}}
  - family: pruned-llm
    grid: {{model: ["{model}"], method: [magnitude], pattern: ["2:4"], phase: ["prefill(24)"],
            calib_tokens: [96], eval_tokens: [48], cloze_items: [1]}}
systems:
  - {{device: cpu, kernel: dense}}
  - {{device: cpu, kernel: csr-numba}}
  - {{device: cpu, kernel: scipy-csr}}
  - {{device: cpu, kernel: nm-numba}}
  - {{device: "sim:sparse-tc-32x32", kernel: nm, family: pruned-llm}}
"""


def test_every_backend_decodes_and_prefills_like_dense_on_the_same_weights(suite_run):
    _, records = suite_run
    by = {(r.instance_label, r.system): r for r in records}
    assert len(records) == 8 * 6  # the dense model and 7 pruned ones, 6 systems each
    for r in records:
        if r.status == "skipped":
            assert ("N:M pattern" in r.reason or "no pruned weights" in r.reason), r.reason
            continue
        assert r.status == "ok", (r.instance_label, r.system, r.reason)
        assert r.accuracy["logit_rel_error"] < 1e-4
        assert r.accuracy["perplexity"] > 1.0 and 0.0 <= r.accuracy["cloze_acc"] <= 1.0
    ok_nm = by[("tiny.gguf sparsegpt 2:4 decode(2,16)", "cpu/nm-numba")]
    assert ok_nm.status == "ok" and ok_nm.unit_name == "token" and ok_nm.units == 2
    assert by[("tiny.gguf dense dense decode(2,16)", "cpu/dense")].accuracy["ppl_ratio"] == 1.0
    assert by[("tiny.gguf wanda unstructured(0.5) decode(2,16)", "cpu/nm-numba")].status == \
        "skipped"
    sim = by[("tiny.gguf magnitude 2:4 prefill(24)", "sim:sparse-tc-32x32/nm")]
    assert sim.speedup > 1.0 and sim.energy_j > 0
    prefill = by[("tiny.gguf magnitude 2:4 prefill(24)", "cpu/dense")]
    assert prefill.units == 24 and 0.4 < prefill.flops_useful / prefill.flops_dense < 0.9


def test_pruned_models_are_made_once_and_loaded_from_disk_after(tiny):
    spec = PruneSpec(tiny, "sparsegpt", "4:8", 96)
    first = pruned_model(spec)
    assert first.source == "pruned" and first.prune_s > 0 and first.calibration_tokens == 96
    assert pruned_model(spec).source == "memory"
    pruned_llm_model.forget()
    again = pruned_model(spec)
    assert again.source == "disk" and again.prune_s == first.prune_s
    for name, weight in first.weights.items():
        np.testing.assert_array_equal(again.weights[name], weight)
        np.testing.assert_array_equal(again.masks[name], first.masks[name])
    assert abs(first.density - 0.5) < 1e-9


def test_backends_equal_the_dense_forward_on_the_pruned_weights(tiny):
    from kernels.pruning.backends import UNSTRUCTURED_KERNELS, layer_kernels
    from suite.devices import CpuDevice
    from suite.errors import Unsupported

    pruned = pruned_model(PruneSpec(tiny, "wanda", "2:4", 96))
    ids = np.arange(5, 25)
    expected = pruned.model.forward(ids)
    for kernel in (*UNSTRUCTURED_KERNELS, "nm-numba"):
        try:
            layers = layer_kernels(kernel, pruned, len(ids), "2:4", CpuDevice("cpu"))
        except Unsupported:  # its library is missing here (mkl-csr without MKL)
            continue
        model = pruned.model.with_linears({n: column_linear(p.run) for n, p in layers.items()})
        got = model.forward(ids)
        assert np.linalg.norm(got - expected) <= 1e-5 * np.linalg.norm(expected), kernel


def test_the_family_report_puts_quality_and_speed_in_one_table(suite_run, capsys):
    from suite.report import write_reports

    out, _ = suite_run
    paths = write_reports(out)
    table = (out / "pruned-llm_table.md").read_text()
    assert out / "pruned-llm_table.md" in paths
    assert "| tiny.gguf | sparsegpt | 2:4 | 0.500 |" in table
    assert "## Speed, prefill(24)" in table and "sim:sparse-tc-32x32/nm" in table
    assert "## Quality" in capsys.readouterr().out


@pytest.mark.parametrize("grid, field", [
    ('method: [dense], pattern: ["2:4"]', "pattern"),
    ('method: [wanda], pattern: [dense]', "pattern"),
    ('method: [obs], pattern: ["2:4"]', "method"),
    ('method: [wanda], pattern: ["block(4,0.5)"]', "pattern"),
    ('method: [wanda], pattern: ["2:4"], phase: ["decode(1)"]', "phase"),
])
def test_grid_mistakes_are_one_line_naming_the_field(tiny, grid, field):
    text_in = f"""
name: bad
workloads:
  - family: pruned-llm
    grid: {{model: ["{tiny}"], {grid}}}
systems: [{{device: cpu, kernel: dense}}]
"""
    with pytest.raises(UserError) as err:
        make_plan(parse_suite(text_in, "bad.yaml"))
    assert f"grid.{field}" in str(err.value) and "\n" not in str(err.value)


def test_grouped_attention_is_the_data_layers_causal_attention():
    from suite.data.llama import causal_attention
    from suite.workloads.pruned_llm_decode import grouped_attention

    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal(s).astype(np.float32) for s in
               ((6, 20, 8), (2, 20, 8), (2, 20, 8)))
    mask = np.triu(np.full((20, 20), -np.inf, np.float32), 1)
    np.testing.assert_allclose(grouped_attention(q, k, v, mask), causal_attention(q, k, v),
                               atol=1e-6)


def test_a_kv_cache_is_built_once_and_read_from_disk_after(tiny, monkeypatch):
    from suite.workloads import pruned_llm_decode
    from suite.workloads.pruned_llm_system import stored_cache

    pruned = pruned_model(PruneSpec(tiny, "magnitude", "2:4"))
    contexts = np.arange(3, 3 + 2 * 12).reshape(2, 12)
    first = stored_cache(pruned, contexts)
    monkeypatch.setattr(pruned_llm_decode, "build_cache", lambda *a: pytest.fail("rebuilt"))
    again = stored_cache(pruned, contexts)
    assert again.context == first.context == 12 and again.batch == 2
    for got, want in zip(again.keys + again.values, first.keys + first.values, strict=True):
        np.testing.assert_array_equal(got, want)
    tokens = np.array([7, 9])
    np.testing.assert_array_equal(decode_step(pruned.model, tokens, again),
                                  decode_step(pruned.model, tokens, first))
