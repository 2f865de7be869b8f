"""CPU per-query selection kernels: ``top-k`` (exact), ``top-theta`` (calibrated
thresholds) and ``double-sparsity`` (label-cache scores, then top-k), prefill and decode.

The loops are in ``cpu_lists``. Top-theta's thresholds and Double Sparsity's channels are
fitted on the instance's calibration data (``kernels.attention.calibrate``), once per
build group and layer through ``ctx.shared`` (untimed). Prefill builds the label cache
inside the timed call; decode keeps it with the KV cache (``put``, untimed). Option of
``double-sparsity``: ``channels`` (label channels r, default d/4).
"""

from __future__ import annotations

import numpy as np

from kernels.attention import calibrate
from kernels.attention.common import Recorder, check_options, make_prepared, method_budget
from kernels.attention.cpu import Feed, threads, tiny_batch
from suite.errors import Unsupported
from suite.registry import register_kernel
from suite.workloads.attention_batch import AttentionOutput

EMPTY_THETA = np.zeros((1, 1), np.float32)


@register_kernel("attention", "top-k", device="cpu", needs=("numba",),
                 description="exact per-query top-k keys (the accuracy ceiling of top-k)")
def top_k(instance, inputs, ctx):
    check_options(ctx.options, ())
    return _prepare(instance, "top-k", ctx, lambda batch: (EMPTY_THETA, None))


@register_kernel("attention", "top-theta", device="cpu", needs=("numba",),
                 description="Top-theta: per-head thresholds calibrated offline")
def top_theta(instance, inputs, ctx):
    check_options(ctx.options, ())
    target = instance.keys_per_query

    def table(layer):
        q, k, _ = inputs.calibration[layer]
        return ctx.shared(("top-theta", layer, target),
                          lambda: calibrate.theta_table(q, k, target))

    return _prepare(instance, "top-theta", ctx, lambda batch: (
        calibrate.extend(table(batch.layer), batch.k.shape[2]) if batch.layer in
        inputs.calibration else _fit_on_batch(batch, target), None))


@register_kernel("attention", "double-sparsity", device="cpu", needs=("numba",),
                 description="Double Sparsity: r calibrated channels score, then top-k")
def double_sparsity(instance, inputs, ctx):
    check_options(ctx.options, ("channels",))
    r = int(ctx.options.get("channels", instance.shape.head_dim // 4))
    if r > instance.shape.head_dim:
        raise Unsupported(f"channels={r} > head_dim {instance.shape.head_dim}")

    def chans(layer):
        q, k, _ = inputs.calibration[layer]
        return ctx.shared(("ds-channels", layer, r), lambda: calibrate.heavy_channels(q, k, r))

    return _prepare(instance, "double-sparsity", ctx, lambda batch: (
        EMPTY_THETA, chans(batch.layer) if batch.layer in inputs.calibration else
        calibrate.heavy_channels(batch.q, batch.k, r)))


def _fit_on_batch(batch, target):
    """Tiny compile batches have no calibration data: fit on themselves."""
    return calibrate.extend(calibrate.theta_table(batch.q, batch.k, target),
                            batch.k.shape[2])


def _prepare(instance, method, ctx, calibration):
    from kernels.attention import cpu_lists

    mode = {"top-k": cpu_lists.MODE_TOPK, "top-theta": cpu_lists.MODE_THETA,
            "double-sparsity": cpu_lists.MODE_DS}[method]
    budget = method_budget(instance, method, ctx.options)
    run, put = _kernel(mode, instance.phase, budget.keys, budget.cap, calibration)
    run(put(tiny_batch(instance)))
    return make_prepared(instance, method, ctx.options, run, budget, put=put)


def _layouts(mode, batch, chans):
    """(kT, labelT): exact keys for top-k / Top-theta, label cache for Double Sparsity."""
    from kernels.attention import layout

    if mode != 2:
        return layout.keys_transposed(batch.k), np.zeros((1, 1, 1, 1, 64), np.float32)
    label = np.stack([batch.k[:, g][..., chans[g]] for g in range(batch.k.shape[1])], axis=1)
    return np.zeros((1, 1, 1, 1, 64), np.float32), layout.keys_transposed(label)


def _kernel(mode, phase, keys, cap, calibration):
    from kernels.attention import cpu_lists, layout

    def put(batch):
        theta, chans = calibration(batch)
        chans = np.zeros((batch.k.shape[1], 1), np.int64) if chans is None else chans
        arrays = _layouts(mode, batch, chans) if phase == "decode" else ()
        return Feed(batch, (theta, chans, arrays))

    def run(feed):
        batch = feed.batch
        theta, chans, arrays = feed.arrays
        kT, labelT = arrays if arrays else _layouts(mode, batch, chans)
        rec = Recorder(batch, cap if cap is not None else batch.k.shape[2])
        out = np.empty(batch.q.shape, np.float32)
        args = (mode, layout.scaled_queries(batch.q), kT, batch.k, batch.v, batch.q_pos, keys,
                theta, keys, labelT, chans, rec.slot_of, rec.rec_idx, rec.rec_cnt,
                rec.row_cnt, out)
        if phase == "prefill":
            cpu_lists.prefill(*args)
        else:
            cpu_lists.decode(*args, threads())
        return AttentionOutput(out, rec.kept())

    return run, put
