"""What every pruned-LLM system shares: the pruned model and its quality as shared builds,
the timed step with its inputs, and the work of one step.

``shared_pruned(ctx, instance)`` and ``shared_quality(ctx, instance, pruned)`` go through
``ctx.shared`` (untimed; build time and bytes land in the record) in front of the disk
caches of ``pruned_llm_model`` and ``pruned_llm_quality``. ``step(ctx, instance, model,
pruned) -> (run, put)``: decode steps get their KV cache in ``put`` (built once per device
and batch from the pruned weights, dense numpy: every backend decodes over the same
cache; ``stored_cache`` keeps it on disk under the pruned model's key and the contexts'
ids, so a second run does not push ``b * c`` tokens through the model again: about 35
CPU-seconds for ``decode(8,256)`` on SmolLM2, ~95 MB on disk); prefill runs the prompt.
``step_work(config, phase, nnz)``: FLOPs and bytes of one call;
``head_and_attention(config, phase)`` the part no SpMM kernel runs.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from suite.workload import Work

ITEM = 4  # float32
KV_VERSION = "kv-1"  # in the disk key of KV caches: bump it when build_cache changes
_CACHES: OrderedDict = OrderedDict()  # the last KV caches built, shared across devices
CACHE_MEMO = 2


def shared_pruned(ctx, instance):
    """The instance's ``PrunedModel``, one per (model, method, pattern, calibration)."""
    from suite.workloads.pruned_llm_model import pruned_model

    return ctx.shared(("pruned-llm", instance.spec), lambda: pruned_model(instance.spec),
                      nbytes=lambda p: p.nbytes)


def shared_quality(ctx, instance, pruned) -> dict[str, float]:
    """Perplexity, its ratio to the dense model's and cloze accuracy (evaluated once)."""
    from suite.workloads.pruned_llm_model import PruneSpec, pruned_model
    from suite.workloads.pruned_llm_quality import model_quality, with_ratio

    evals = (instance.params["eval_tokens"], instance.params["cloze_items"])
    dense_spec = PruneSpec(instance.spec.model, "dense", "dense", instance.spec.calib_tokens)

    def build():
        dense = model_quality(pruned_model(dense_spec), *evals)
        return with_ratio(model_quality(pruned, *evals), dense)

    return ctx.shared(("pruned-llm-quality", instance.spec, evals), build, nbytes=lambda q: 0)


def step(ctx, instance, model, pruned):
    """``(run, put)`` of one decode step or one prefill through ``model``'s linears."""
    from suite.data.capture import ids_digest
    from suite.workloads.pruned_llm_decode import decode_step, prefill_logits

    if instance.phase.kind == "prefill":
        return (lambda batch: prefill_logits(model, batch.ids)), (lambda batch: batch)

    def put(batch):
        key = ("pruned-llm-kv", instance.spec, ids_digest(batch.contexts))
        cache = ctx.shared(key, lambda: _kv_cache(key, pruned, batch.contexts),
                           nbytes=lambda c: c.nbytes)
        return batch.tokens, cache

    return (lambda fed: decode_step(model, fed[0], fed[1])), put


def _kv_cache(key, pruned, contexts):
    """The KV cache of ``contexts``, remembered for the next device of the same group."""
    if key not in _CACHES:
        _CACHES[key] = stored_cache(pruned, contexts)
        while len(_CACHES) > CACHE_MEMO:
            _CACHES.popitem(last=False)
    return _CACHES[key]


def stored_cache(pruned, contexts):
    """``build_cache(pruned.model, contexts)``, from the derived-array cache when an earlier
    run (or process) built it for the same pruned model and contexts."""
    from suite.data.cache import derived
    from suite.data.capture import ids_digest
    from suite.workloads.pruned_llm_decode import build_cache, cache_arrays, cache_of_arrays

    key = {"pruned": pruned.spec.key(), "contexts": ids_digest(contexts),
           "shape": list(contexts.shape), "code": KV_VERSION}
    arrays = derived("pruned-llm-kv", key,
                     lambda: cache_arrays(build_cache(pruned.model, contexts)))
    return cache_of_arrays(arrays)


def head_and_attention(cfg, phase) -> tuple[float, float]:
    """FLOPs and bytes of the LM head (dense) and attention: what no SpMM kernel runs."""
    head_rows = phase.batch if phase.kind == "decode" else 1
    head = cfg.vocab_size * cfg.hidden_size
    per_pair = 4.0 * cfg.num_heads * cfg.head_dim * cfg.num_layers  # QK^T and PV
    if phase.kind == "decode":
        positions = phase.batch * (phase.context + 1)
        kv_bytes = 2.0 * ITEM * cfg.num_layers * cfg.num_kv_heads * cfg.head_dim * positions
        return 2.0 * head_rows * head + per_pair * positions, ITEM * head + kv_bytes
    pairs = phase.context * (phase.context + 1) / 2
    return 2.0 * head_rows * head + per_pair * pairs, float(ITEM * head)


def step_work(cfg, phase, nnz: dict[str, int]) -> Work:
    """One call: every pruned linear on ``phase.tokens`` tokens, plus head and attention."""
    dense_params = sum(_size(cfg, name) for name in nnz)
    kept = sum(nnz.values())
    extra_flops, extra_bytes = head_and_attention(cfg, phase)
    t = phase.tokens
    activations = 2.0 * ITEM * t * cfg.hidden_size
    return Work(flops_dense=2.0 * t * dense_params + extra_flops,
                flops_useful=2.0 * t * kept + extra_flops,
                bytes_min=ITEM * kept + extra_bytes + activations, units=float(t),
                unit_name="token")


def _size(cfg, name: str) -> int:
    out, inp = cfg.linear_shape(name.rsplit(".", 1)[-1])
    return out * inp


def info_of(pruned, quality: dict[str, Any], **more) -> dict[str, Any]:
    """What every row's record says about the pruned model it ran."""
    return {"quality": quality, "prune_s": round(pruned.prune_s, 3),
            "pruned_from": pruned.source, "density": round(pruned.density, 6),
            "calibration_tokens": pruned.calibration_tokens, **more}
