"""A tiny family for harness tests: y = 2 x, with kernels that are right, wrong, broken,
unsupported, missing a library, slow, cached, v1-style, hanging or crashing.
Loaded through SPARSECAP_PLUGINS or by import."""

from __future__ import annotations

import os
import signal
import time

import numpy as np

from suite.errors import ParamError, Unsupported
from suite.registry import FamilySpec, register_family, register_kernel
from suite.workload import Check, Prepared, Work, WorkloadInstance


class ToyInstance(WorkloadInstance):
    family = "toy"

    def __init__(self, params, seed):
        self.params, self.seed = params, seed

    @property
    def label(self):
        return f"toy size={self.params['size']}"

    def build_inputs(self):
        return np.random.default_rng(self.seed).standard_normal(self.params["size"])

    def batches(self, inputs, count, scenario="batch"):
        rng = np.random.default_rng([self.seed, 7])
        return [inputs] + [rng.standard_normal(inputs.size) for _ in range(count - 1)]

    def reference(self, inputs, batch):
        return 2.0 * batch.astype(np.float64)

    def work(self, inputs, batch):
        return Work(flops_dense=batch.size, flops_useful=batch.size / 2,
                    bytes_min=16.0 * batch.size, units=batch.size, unit_name="element")

    def check(self, output, reference, inputs, prepared, batch=None):
        error = float(np.abs(np.asarray(output) - reference).max())
        return Check(error < 1e-9, {"max_error": error}, {"max_error": {"value": error}},
                     "" if error < 1e-9 else f"max_error {error:.3g}")


def build(params, seed):
    if set(params) - {"size"}:
        bad = sorted(set(params) - {"size"})[0]
        raise ParamError(bad, params[bad], "size")
    size = params.get("size", 8)
    if not isinstance(size, int) or size < 1:
        raise ParamError("size", size, "an integer >= 1")
    return ToyInstance({"size": size}, seed)


register_family(FamilySpec("toy", build, {"size": "integer >= 1"}, baseline_kernel="dense",
                           accuracy_metric="max_error", description="y = 2 x",
                           scenarios=("batch", "per_query")))


@register_kernel("toy", "dense", device="cpu", description="the baseline")
def dense(instance, inputs, ctx):
    return Prepared(run=lambda x: x * 2.0)


@register_kernel("toy", "good", device="cpu", description="right and cheap")
def good(instance, inputs, ctx):
    return Prepared(run=lambda x: x + x)


@register_kernel("toy", "wrong", device="cpu", description="fast but wrong")
def wrong(instance, inputs, ctx):
    return Prepared(run=lambda x: x * 3.0)


@register_kernel("toy", "v1", device="cpu", description="the v1 contract: run() over inputs")
def v1(instance, inputs, ctx):
    return Prepared(run=lambda: inputs * 2.0)


@register_kernel("toy", "cached", device="cpu", description="answers its first call forever")
def cached(instance, inputs, ctx):
    memo = []

    def run(x):
        if not memo:
            memo.append(x * 2.0)
        return memo[0]
    return Prepared(run=run)


@register_kernel("toy", "stale", device="cpu", description="right while validated, then stale")
def stale(instance, inputs, ctx):
    calls = []

    def run(x):
        calls.append(1)
        if len(calls) <= int(ctx.options.get("honest_calls", 3)):
            stale.last = x * 2.0
        return stale.last
    return Prepared(run=run)


@register_kernel("toy", "hang", device="cpu", description="never returns from its timed call")
def hang(instance, inputs, ctx):
    calls = []

    def run(x):
        calls.append(1)
        if len(calls) > 3:  # validation and warm-up pass, the timed loop hangs
            time.sleep(3600)
        return x * 2.0
    return Prepared(run=run)


@register_kernel("toy", "crash", device="cpu", description="kills the interpreter (SIGSEGV)")
def crash(instance, inputs, ctx):
    def run(x):
        if ctx.options.get("how") == "exit":
            os._exit(3)
        os.kill(os.getpid(), signal.SIGSEGV)
    return Prepared(run=run)


@register_kernel("toy", "indexed", device="cpu", description="builds a shared index once")
def indexed(instance, inputs, ctx):
    index = ctx.shared("toy-index", lambda: _build_index(inputs), nbytes=lambda a: a.nbytes)
    return Prepared(run=lambda x: x * index[0])


BUILDS: list[int] = []


def _build_index(inputs):
    BUILDS.append(1)
    return np.full(4, 2.0)


@register_kernel("toy", "boom", device="cpu", description="raises")
def boom(instance, inputs, ctx):
    raise RuntimeError("kernel exploded")


@register_kernel("toy", "odd-only", device="cpu", description="odd sizes only",
                 supports=lambda inst: None if inst.params["size"] % 2 else "needs an odd size")
def odd_only(instance, inputs, ctx):
    return Prepared(run=lambda x: x * 2.0)


@register_kernel("toy", "picky", device="cpu", description="refuses at prepare time")
def picky(instance, inputs, ctx):
    raise Unsupported("picky refuses everything")


@register_kernel("toy", "needs-missing", device="cpu", needs=("no_such_module_xyz",))
def needs_missing(instance, inputs, ctx):
    return Prepared(run=lambda x: x * 2.0)


@register_kernel("toy", "slow", device="cpu", description="sleeps; for kill-and-resume tests")
def slow(instance, inputs, ctx):
    delay = float(ctx.options.get("delay_s", 0.05))

    def run(x):
        time.sleep(delay)
        return x * 2.0
    return Prepared(run=run)


class BrokenInstance(ToyInstance):
    family = "toy-broken"

    def build_inputs(self):
        raise MemoryError("cannot allocate the inputs")


def build_broken(params, seed):
    return BrokenInstance(dict(params), seed)


register_family(FamilySpec("toy-broken", build_broken, {"size": "any"}, baseline_kernel="dense",
                           accuracy_metric="max_error", description="inputs cannot be built"))


@register_kernel("toy-broken", "dense", device="cpu")
def broken_dense(instance, inputs, ctx):
    return Prepared(run=lambda x: x * 2.0)
