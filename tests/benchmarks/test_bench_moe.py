"""pytest-benchmark cases for the CPU MoE kernels on a small 64-expert top-6 layer.

In CI (``--benchmark-disable``) each runs once as a test; ``pytest tests/benchmarks
--benchmark-enable`` times them. The output is checked so a fast wrong kernel fails.
For same-run ratios with medians, use ``python -m kernels.moe.bench``.
"""

import pytest

from kernels.moe.bench import PINNED, bench_case
from suite.context import KernelContext
from suite.registry import find_kernel, get_family, make_device

KERNELS = ["dense", "loop", "grouped", "capacity"]


@pytest.mark.parametrize("routing", ["uniform", "zipf(1.2)"])
@pytest.mark.parametrize("name", KERNELS)
def test_bench_moe(benchmark, name, routing):
    instance = get_family("moe").instantiate(
        {"model": "deepseek-moe-16b", "scale": 32, "tokens": 128, "routing": routing}, seed=0)
    inputs = instance.build_inputs()
    spec = find_kernel("moe", name, "cpu")
    prep = spec.prepare(instance, inputs, KernelContext(device=make_device("cpu")))
    batch = prep.put(inputs.batch)
    out = benchmark(prep.run, batch)
    check = instance.check(prep.to_host(out), instance.reference(inputs, inputs.batch), inputs,
                           prep, batch=inputs.batch)
    assert check.valid, check.reason


def test_bench_script_rows_are_checked_by_the_harness():
    rows = bench_case({"d_model": 32, "d_ff": 16, "experts": 8, "top_k": 2, "tokens": 16},
                      repeats=7)
    assert {r["kernel"] for r in rows} == {*KERNELS, PINNED}
    assert all(r["valid"] and r["median_ms"] > 0 for r in rows), rows
