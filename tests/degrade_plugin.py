"""A test plug-in that makes one registered kernel slower or less accurate, for gate trials.

Load it with ``SPARSECAP_PLUGINS=tests.degrade_plugin`` and say what to do in
``SPARSECAP_DEGRADE``, comma-separated ``FAMILY/KERNEL=slower:FRACTION`` (each timed call
does extra CPU work worth ``FRACTION`` of its own time: 0.25 = 25 % slower) or
``FAMILY/KERNEL=noise:RELATIVE`` (the output, on its way to the check, untimed, gets
seeded Gaussian noise of ``RELATIVE`` times its RMS: less accurate, still valid)::

    SPARSECAP_PLUGINS=tests.degrade_plugin SPARSECAP_DEGRADE=spmm/nm-numba=slower:0.25 \\
        run-suite --suite ci --out runs/slow

The kernel keeps its name, so ``run-suite compare`` matches its rows with the base run's.
Worker processes import this module after the kernels (``suite.runner.plugin_modules``).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

import numpy as np

from suite import registry

ENV = "SPARSECAP_DEGRADE"


def _slower(run, fraction: float):
    """``run`` followed by CPU work worth ``fraction`` of its own time: calibrated on the
    first call (the validation call, untimed) from the fastest of a few calls of each, so
    the extra is real work that a loaded machine slows as much as the kernel, not a
    wall-clock spin (which the scheduler punishes far more than 25 %)."""
    unit = np.ones((48, 48), dtype=np.float64)
    reps: list[int] = []

    def filler(count: int) -> None:
        for _ in range(count):
            unit @ unit

    def fastest(call, times: int = 7) -> float:
        best = float("inf")
        for _ in range(times):
            start = time.perf_counter()
            call()
            best = min(best, time.perf_counter() - start)
        return best

    def run_slower(batch):
        if not reps:
            call_s = fastest(lambda: run(batch))
            unit_s = fastest(lambda: filler(20)) / 20
            reps.append(max(1, round(fraction * call_s / unit_s)))
        out = run(batch)
        filler(reps[0])
        return out
    return run_slower


def _noisy(to_host, relative: float):
    rng = np.random.default_rng(7)

    def to_host_noisy(out):
        host = np.asarray(to_host(out))
        rms = float(np.sqrt(np.mean(np.square(host, dtype=np.float64))))
        noise = rng.standard_normal(host.shape) * (relative * rms)
        return (host + noise).astype(host.dtype)
    return to_host_noisy


def _degraded(prepare, how: str, amount: float):
    def prepare_degraded(instance, inputs, ctx):
        prepared = prepare(instance, inputs, ctx)
        if how == "slower":
            return replace(prepared, run=_slower(prepared.run, amount))
        return replace(prepared, to_host=_noisy(prepared.to_host, amount))
    return prepare_degraded


def apply(spec_text: str) -> list[str]:
    """Wrap each named kernel (every device it is registered on); returns what was wrapped."""
    done = []
    for item in filter(None, (part.strip() for part in spec_text.split(","))):
        target, _, action = item.partition("=")
        family, _, kernel = target.partition("/")
        how, _, amount = action.partition(":")
        if how not in ("slower", "noise"):
            raise ValueError(f"{ENV}: got {item!r}; allowed: FAMILY/KERNEL=slower:F or "
                             "FAMILY/KERNEL=noise:R")
        for key, spec in list(registry._KERNELS.items()):
            if key[:2] == (family, kernel) and not getattr(spec.prepare, "degraded", False):
                wrapped = _degraded(spec.prepare, how, float(amount))
                wrapped.degraded = True
                registry._KERNELS[key] = replace(spec, prepare=wrapped,
                                                 module=__name__)
                done.append(f"{family}/{kernel} on {key[2]}: {how} {amount}")
    return done


registry.load_plugins()
apply(os.environ.get(ENV, ""))
