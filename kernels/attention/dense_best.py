"""``dense`` on the CPU: the faster of our flash kernel and torch SDPA, so no sparse method
looks good by beating a slow dense one.

At prepare (untimed) both candidates run on the instance's first batch, alternately,
``PROBE_ROUNDS`` times each after a warm-up; the one with the lower best time becomes the
baseline, and the record's ``info`` says which and what each took. Without torch the
baseline is ``flash``. Both are also listed as their own systems (``flash``, ``sdpa``)
for a same-run comparison. Main entry: the ``dense`` kernel.
"""

from __future__ import annotations

import importlib.util
import time

from kernels.attention.common import make_prepared
from kernels.attention.cpu import dense_like, tiny_batch
from suite.registry import register_kernel

PROBE_ROUNDS = 3
PROBE_BUDGET_S = 3.0  # stop probing once the candidates together took this long


def candidates(instance) -> dict:
    """name -> (run, put, to_host) of each dense implementation available here."""
    run, put = dense_like(0, 0, instance.phase)
    found = {"flash": (run, put, None)}
    if importlib.util.find_spec("torch") is not None:
        from kernels.attention.torch_sdpa import sdpa_parts
        s_run, s_put, s_host, _ = sdpa_parts(instance, "cpu")
        found["sdpa"] = (s_run, s_put, s_host)
    return found


def probe(found: dict, batch) -> dict[str, float]:
    """Best seconds per call of each candidate on ``batch`` (alternating rounds)."""
    feeds = {name: parts[1](batch) for name, parts in found.items()}
    for name, parts in found.items():
        parts[0](feeds[name])
    best = {name: float("inf") for name in found}
    spent = time.perf_counter()
    for _ in range(PROBE_ROUNDS):
        for name, parts in found.items():
            start = time.perf_counter()
            parts[0](feeds[name])
            best[name] = min(best[name], time.perf_counter() - start)
        if time.perf_counter() - spent > PROBE_BUDGET_S:
            break
    return best


@register_kernel("attention", "dense", device="cpu", needs=("numba",),
                 description="the faster of flash (ours) and torch SDPA, timed at prepare")
def dense(instance, inputs, ctx):
    found = candidates(instance)
    found["flash"][0](found["flash"][1](tiny_batch(instance)))  # compile before probing
    batch = instance.make_batch(inputs, instance.params["layers"][0])
    best = probe(found, batch) if len(found) > 1 else {"flash": 0.0}
    name = min(best, key=best.get)
    run, put, to_host = found[name]
    prepared = make_prepared(instance, "dense", {}, run, None, put=put,
                             info={"implementation": name,
                                   "probe_s": {k: round(v, 6) for k, v in best.items()}})
    if to_host is not None:
        prepared.to_host = to_host
    return prepared
