"""pytest-benchmark cases for the CPU SpMM kernels on a small 2:4 / 1:4 layer.

In CI (``--benchmark-disable``) each runs once as a test; ``pytest tests/benchmarks
--benchmark-enable`` times them. The output is checked so a fast wrong kernel fails.
"""

import pytest

from suite.context import KernelContext
from suite.errors import Unsupported
from suite.registry import find_kernel, get_family, make_device

KERNELS = ["dense", "scipy-csr", "csr-numba", "mkl-csr", "nm-numba"]


@pytest.mark.parametrize("pattern", ["2:4", "1:4"])
@pytest.mark.parametrize("name", KERNELS)
def test_bench_spmm(benchmark, name, pattern):
    instance = get_family("spmm").instantiate(
        {"shape": [128, 256], "n": 64, "pattern": pattern}, seed=0)
    inputs = instance.build_inputs()
    spec = find_kernel("spmm", name, "cpu")
    if spec.missing_needs():
        pytest.skip(spec.missing_needs())
    try:
        prep = spec.prepare(instance, inputs, KernelContext(device=make_device("cpu")))
    except Unsupported as exc:
        pytest.skip(str(exc))
    x = prep.put(inputs.x)
    out = benchmark(prep.run, x)
    check = instance.check(prep.to_host(out), instance.reference(inputs, inputs.x), inputs, prep)
    assert check.valid, check.reason
