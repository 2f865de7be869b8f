"""MoE layers on ``sim:`` devices: validated output, routing-aware cycles, idle experts free."""

from __future__ import annotations

import numpy as np

from simulators.moe_harness import tokens_per_expert
from suite.context import KernelContext
from suite.registry import find_kernel, get_family, make_device

PARAMS = {"d_model": 64, "d_ff": 32, "experts": 8, "top_k": 2, "tokens": 64}


def simulate(kernel: str, **params):
    instance = get_family("moe").instantiate({**PARAMS, **params}, 0)
    inputs = instance.build_inputs()
    ctx = KernelContext(device=make_device("sim:sparse-tc-32x32"))
    prepared = find_kernel("moe", kernel, "sim").prepare(instance, inputs, ctx)
    output = prepared.to_host(prepared.run(inputs.batch))
    check = instance.check(output, instance.reference(inputs, inputs.batch), inputs, prepared,
                           batch=inputs.batch)
    return instance, inputs, prepared, check


def test_grouped_experts_validate_and_beat_every_expert_on_every_token():
    *_, grouped, check = simulate("grouped")
    *_, dense, dense_check = simulate("dense")
    assert check.valid and dense_check.valid
    assert grouped.simulated_time_s < dense.simulated_time_s
    assert grouped.energy_j < dense.energy_j


def test_skewed_routing_costs_more_than_uniform_for_the_same_pairs():
    *_, uniform, _ = simulate("grouped", routing="uniform")
    *_, skewed, _ = simulate("grouped", routing="zipf(2.0)")
    assert skewed.info["experts_active"] <= uniform.info["experts_active"]
    assert skewed.info["tokens_per_expert_max"] > uniform.info["tokens_per_expert_max"]


def test_token_counts_follow_the_routing_and_shared_experts_see_every_token():
    instance, inputs, *_ = simulate("grouped", shared_experts=1)
    counts = tokens_per_expert(instance, inputs.batch.expert_idx)
    assert counts[:8].sum() == 64 * 2 and counts[8] == 64
    assert np.array_equal(counts[:8], np.bincount(inputs.batch.expert_idx.ravel(), minlength=8))


def test_an_idle_expert_adds_no_gemm():
    instance, inputs, prepared, _ = simulate("grouped", tokens=1)
    active = prepared.info["experts_active"]
    assert active == 2 and prepared.info["gemms"] == 2 * active
