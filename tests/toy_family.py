"""A tiny family for harness tests: y = 2 x, with kernels that are right, wrong, broken,
unsupported, missing a library, or slow. Loaded through SPARSECAP_PLUGINS or by import."""

from __future__ import annotations

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

    def reference(self, inputs):
        return 2.0 * inputs.astype(np.float64)

    def work(self, inputs):
        return Work(flops_dense=inputs.size, flops_useful=inputs.size / 2,
                    bytes_min=16.0 * inputs.size, units=inputs.size, unit_name="element")

    def check(self, output, reference, inputs, prepared):
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
                           accuracy_metric="max_error", description="y = 2 x"))


@register_kernel("toy", "dense", device="cpu", description="the baseline")
def dense(instance, inputs, ctx):
    return Prepared(run=lambda: inputs * 2.0)


@register_kernel("toy", "good", device="cpu", description="right and cheap")
def good(instance, inputs, ctx):
    return Prepared(run=lambda: inputs + inputs)


@register_kernel("toy", "wrong", device="cpu", description="fast but wrong")
def wrong(instance, inputs, ctx):
    return Prepared(run=lambda: inputs * 3.0)


@register_kernel("toy", "boom", device="cpu", description="raises")
def boom(instance, inputs, ctx):
    raise RuntimeError("kernel exploded")


@register_kernel("toy", "odd-only", device="cpu", description="odd sizes only",
                 supports=lambda inst: None if inst.params["size"] % 2 else "needs an odd size")
def odd_only(instance, inputs, ctx):
    return Prepared(run=lambda: inputs * 2.0)


@register_kernel("toy", "picky", device="cpu", description="refuses at prepare time")
def picky(instance, inputs, ctx):
    raise Unsupported("picky refuses everything")


@register_kernel("toy", "needs-missing", device="cpu", needs=("no_such_module_xyz",))
def needs_missing(instance, inputs, ctx):
    return Prepared(run=lambda: inputs * 2.0)


@register_kernel("toy", "slow", device="cpu", description="sleeps; for kill-and-resume tests")
def slow(instance, inputs, ctx):
    delay = float(ctx.options.get("delay_s", 0.05))

    def run():
        time.sleep(delay)
        return inputs * 2.0
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
    return Prepared(run=lambda: inputs * 2.0)
