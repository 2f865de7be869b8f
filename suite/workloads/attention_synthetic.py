"""A seeded generator of Q, K, V with the structure real attention has (source ``synthetic``).

Built on what is published about trained LLM attention and checked against SmolLM2-135M
captures (docs/attention.md has the comparison; ``tests/test_attention_synthetic.py``
pins the statistics):

* **RoPE** (rotate-half, theta = 100000 as SmolLM2) is applied to Q and K, so every
  position effect comes from rotations, as in the real model.
* **Sink tokens** (Xiao et al., StreamingLLM): keys 0..3 carry a large component on the
  lowest-frequency rotary pair (nearly position-invariant, the "massive activation"
  channel), so queries with a sink affinity put much of their mass there; sink values are
  small (sinks are no-ops, Gu et al. 2024). Sink affinity grows with depth (SmolLM2: 7%
  of the mass on token 0 at layer 3, 41% at layer 14, 58% at layer 25).
* **Locality**: Q and K share a vector on the high- and mid-frequency pairs; after RoPE
  their product is ``sum_c A_c cos(w_c (i - j))``, which peaks at the diagonal and decays
  over tens of tokens.
* **Content and retrieval heads**: tokens follow a Zipf(1.1) stream over 2048 ids with
  copied spans; keys carry the embedding of the *previous* token and queries that of the
  current one on the low-frequency pairs (induction heads, Olsson et al. 2022), so a
  query finds the keys after earlier occurrences of its token anywhere in the context.
  A quarter of the heads in the first half of the layers, fewer deeper
  (``RETRIEVAL_BY_DEPTH``), are retrieval heads: strong content, little locality (Wu et
  al. 2024 find < 5% of heads retrieve; here more, to stress the methods).
* **Heavy tails**: channel scales are lognormal, so a few channels carry most of the
  score variance (what Double Sparsity exploits) and scores have heavy tails.

Main entry: ``synthetic_qkv(shape, seed, layer, text) -> (q, k, v)`` float32 with
q B x H x L x d, k and v B x Hkv x L x d. Cost: O(B H L d) to generate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ROPE_THETA = 100_000.0
VOCAB = 2048
ZIPF_EXPONENT = 1.1
COPY_RATE = 0.01            # per position: start copying an earlier span
SINK_TOKENS = 4
CONTENT_PAIRS = 6           # lowest-frequency rotary pairs (after the sink pair) for content
RETRIEVAL_BY_DEPTH = ((0.0, 0.5, 1.0), (0.25, 0.25, 0.0))  # share of retrieval heads
LOCAL_CENTERS, LOCAL_WIDTH = (2.0, 11.0), 2.0  # rotary pairs where locality fades out
SINK_BY_DEPTH = ((0.0, 0.3, 0.5, 1.0), (0.9, 2.0, 2.6, 2.8))  # sink affinity vs depth
NUM_LAYERS = 30             # SmolLM2-135M's depth: synthetic layer i is at depth i / 30


@dataclass(frozen=True)
class Shape:
    batch: int
    heads: int
    kv_heads: int
    head_dim: int
    length: int


@dataclass(frozen=True)
class HeadGains:
    """Per query head, in logit units: sink affinity, locality (and the rotary pair its
    bump is centred on), content, noise."""

    sink: np.ndarray
    local: np.ndarray
    center: np.ndarray
    content: np.ndarray
    noise: np.ndarray


def synthetic_qkv(shape: Shape, seed: int, layer: int = 0, text: int = 0,
                  num_layers: int = NUM_LAYERS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Q, K, V of one layer (float32); the same arguments give the same arrays.

    ``seed`` and ``layer`` fix the "model" (head gains, locality profiles, channel scales,
    token embeddings); ``text`` the token stream and the noise, as another text through
    the same model (calibration data uses ``text=1``)."""
    model = np.random.default_rng([seed, layer, 17])
    rng = np.random.default_rng([seed, layer, 17, text + 1])
    depth = min(max(layer / max(num_layers - 1, 1), 0.0), 1.0)
    gains = _head_gains(model, shape.heads, depth)
    fixed = _model_arrays(model, shape)
    qs, ks, vs = [], [], []
    for _ in range(shape.batch):
        tokens = token_stream(rng, shape.length)
        q, k, v = _one_sequence(rng, shape, gains, fixed, tokens)
        qs.append(q)
        ks.append(k)
        vs.append(v)
    return tuple(np.ascontiguousarray(np.stack(x), dtype=np.float32) for x in (qs, ks, vs))


def token_stream(rng: np.random.Generator, length: int) -> np.ndarray:
    """Zipf-distributed ids with spans copied from earlier positions (repeated phrases)."""
    ranks = np.arange(1, VOCAB + 1, dtype=np.float64)
    probs = ranks ** -ZIPF_EXPONENT
    tokens = rng.choice(VOCAB, size=length, p=probs / probs.sum())
    starts = np.flatnonzero(rng.random(length) < COPY_RATE)
    for start in starts[starts > 64]:
        span = int(rng.integers(8, 33))
        source = int(rng.integers(0, start - span)) if start > span else 0
        stop = min(start + span, length)
        tokens[start:stop] = tokens[source:source + stop - start]
    return tokens


def _head_gains(rng: np.random.Generator, heads: int, depth: float) -> HeadGains:
    retrieval = np.zeros(heads, bool)
    share = np.interp(depth, *RETRIEVAL_BY_DEPTH)
    retrieval[rng.choice(heads, round(share * heads), replace=False)] = True
    sink = np.interp(depth, *SINK_BY_DEPTH) * rng.lognormal(0.0, 0.2, heads)
    local = np.where(retrieval, 2.5, 6.0 + 5.0 * depth) * rng.lognormal(0.0, 0.25, heads)
    content = np.where(retrieval, 3.2, 0.6 - 0.4 * depth) * rng.lognormal(0.0, 0.25, heads)
    noise = 0.9 * rng.lognormal(0.0, 0.2, heads)
    center = rng.uniform(*LOCAL_CENTERS, heads)
    return HeadGains(sink, local, center, content, noise)


def rope(x: np.ndarray, positions: np.ndarray, theta: float = ROPE_THETA) -> np.ndarray:
    """Hugging Face rotate-half RoPE on the last axis (pairs c and c + d/2)."""
    half = x.shape[-1] // 2
    freq = theta ** (-np.arange(half) / half)
    angle = positions[:, None] * freq[None]
    cos, sin = np.cos(angle), np.sin(angle)
    lo, hi = x[..., :half], x[..., half:]
    return np.concatenate([lo * cos - hi * sin, lo * sin + hi * cos], axis=-1)


def _model_arrays(model: np.random.Generator, shape: Shape) -> dict[str, np.ndarray]:
    """What a "model" fixes: token embeddings, locality amplitudes, channel scales."""
    local_pairs = shape.head_dim // 2 - 1 - CONTENT_PAIRS
    return {"embed": model.standard_normal((VOCAB, 2 * CONTENT_PAIRS)) / np.sqrt(
                2 * CONTENT_PAIRS),
            "amp": _local_amplitudes(model, shape.kv_heads, local_pairs),
            "k_scale": _channel_scales(model, shape.kv_heads, shape.head_dim),
            "q_scale": _channel_scales(model, shape.heads, shape.head_dim),
            "v_scale": _channel_scales(model, shape.kv_heads, shape.head_dim)}


def _one_sequence(rng, shape: Shape, gains: HeadGains, fixed: dict, tokens: np.ndarray):
    n_h, n_kv, d, length = shape.heads, shape.kv_heads, shape.head_dim, shape.length
    half = d // 2
    sink_pair, content = half - 1, np.arange(half - 1 - CONTENT_PAIRS, half - 1)
    local_pairs = np.arange(0, half - 1 - CONTENT_PAIRS)
    embed, amp = fixed["embed"], fixed["amp"]
    previous = np.concatenate([[tokens[0]], tokens[:-1]])
    k = np.zeros((n_kv, length, d))
    q = np.zeros((n_h, length, d))
    for g in range(n_kv):
        k[g][:, local_pairs] = amp[g]
        k[g][:, local_pairs + half] = amp[g]
        k[g][:, np.concatenate([content, content + half])] = embed[previous]
        k[g][:SINK_TOKENS, sink_pair] = [4.0, 2.0, 1.6, 1.3][:min(SINK_TOKENS, length)]
        k[g][SINK_TOKENS:, sink_pair] = -0.3
    group = n_h // n_kv
    for h in range(n_h):
        g = h // group
        reach = _local_profile(len(local_pairs), gains.center[h], amp[g])
        q[h][:, local_pairs] = gains.local[h] * reach * amp[g]
        q[h][:, local_pairs + half] = gains.local[h] * reach * amp[g]
        q[h][:, np.concatenate([content, content + half])] = gains.content[h] * embed[tokens] * 3
        q[h][:, sink_pair] = gains.sink[h]
    k += _noise(rng, fixed["k_scale"], length)
    q += _noise(rng, fixed["q_scale"], length) * gains.noise[:, None, None]
    positions = np.arange(length, dtype=np.float64)
    q, k = rope(q, positions), rope(k, positions)
    v = _noise(rng, fixed["v_scale"], length)
    v[:, :SINK_TOKENS] *= 0.2
    return q * np.sqrt(np.sqrt(d)), k * np.sqrt(np.sqrt(d)), v


def _local_amplitudes(rng, n_kv: int, pairs: int) -> np.ndarray:
    """Per KV head, amplitudes of the key side of the locality vector (flat, jittered)."""
    amp = rng.lognormal(0.0, 0.3, (n_kv, pairs))
    return amp / np.sqrt((2 * amp ** 2).sum(axis=1, keepdims=True))


def _local_profile(pairs: int, center: float, amp: np.ndarray) -> np.ndarray:
    """Query-side weights over the rotary pairs: flat from the highest frequency down to
    pair ``center``, then decaying (a low ``center`` is a sharp, previous-token-like head;
    the spread of frequencies makes the kernel decay with distance instead of repeating),
    scaled so the diagonal logit is the head's locality gain."""
    c = np.arange(pairs)
    bump = np.where(c <= center, 1.0, np.exp(-(c - center) / LOCAL_WIDTH))
    return bump / float((2 * bump * amp ** 2).sum())


def _channel_scales(model, heads: int, d: int) -> np.ndarray:
    """Lognormal per-channel scales (a few outlier channels), unit mean square per head."""
    scales = model.lognormal(0.0, 0.8, (heads, 1, d))
    return scales / np.sqrt((scales ** 2).mean(axis=2, keepdims=True))


def _noise(rng, scales: np.ndarray, length: int) -> np.ndarray:
    """Gaussian noise of variance scales^2 / d per channel."""
    heads, _, d = scales.shape
    return rng.standard_normal((heads, length, d)) * scales * np.sqrt(1.0 / d)
