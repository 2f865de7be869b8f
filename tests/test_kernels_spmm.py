"""SpMM kernels against the float64 reference, edge shapes, and the Unsupported paths.

Each case builds an instance with ``suite.workloads.spmm.build``, prepares the kernel on the
CPU device, runs it once and asks the instance to check the output.
"""

import numpy as np
import pytest

from suite.context import KernelContext
from suite.errors import Unsupported
from suite.family import REQUIRED
from suite.registry import find_kernel, get_family, kernel_names, make_device
from suite.workloads.spmm import PARAMS, SpmmInputs, SpmmInstance

DEFAULTS = {k: p.default for k, p in PARAMS.items() if p.default is not REQUIRED}
build = get_family("spmm").instantiate  # typed params: validated and defaulted by the harness

CPU_KERNELS = ["dense", "scipy-csr", "scipy-bsr", "csr-numba", "nm-numba", "csr16-numba",
               "bitmap-numba", "mkl-csr"]
PATTERNS = ["2:4", "1:4", "2:8", "unstructured(0.3)", "block(4,0.25)", "dense"]


def make_instance(params, seed):
    """``build``, except block patterns: build stores the label ``block4(0.25)``, which
    parse_pattern cannot read back, so those instances are made directly."""
    if params["pattern"].startswith("block"):
        return SpmmInstance({**DEFAULTS, **params}, seed)
    return build(params, seed)


@pytest.fixture(scope="module")
def ctx():
    return KernelContext(device=make_device("cpu"))


def run_kernel(name, instance, inputs, ctx, device="cpu"):
    spec = find_kernel("spmm", name, device)
    assert spec is not None, f"{name} is not registered on {device}"
    missing = spec.missing_needs()
    if missing:
        pytest.skip(f"{name}: {missing}")
    reason = spec.unsupported_reason(instance)
    if reason:
        with pytest.raises(Unsupported):  # supports= and prepare agree
            spec.prepare(instance, inputs, ctx)
        return None
    try:
        prep = spec.prepare(instance, inputs, ctx)
    except Unsupported as exc:
        if name == "mkl-csr":  # MKL present but not loadable here: a skip, with the reason
            pytest.skip(str(exc))
        raise
    return prep, prep.to_host(prep.run(prep.put(inputs.x)))


def assert_matches_reference(name, instance, inputs, ctx):
    result = run_kernel(name, instance, inputs, ctx)
    if result is None:
        return
    prep, out = result
    check = instance.check(out, instance.reference(inputs, inputs.x), inputs, prep)
    assert check.valid, f"{name} on {instance.label}: {check.reason}"
    assert prep.flops is not None and prep.bytes_min > 0


def test_every_cpu_kernel_is_registered():
    assert set(CPU_KERNELS) <= set(kernel_names("spmm", "cpu"))
    assert {"dense", "cusparse-csr", "nm-cupy"} <= set(kernel_names("spmm", "cuda"))
    assert {"dense", "nm-cusparselt"} <= set(kernel_names("spmm", "torch-cuda"))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("name", CPU_KERNELS)
def test_kernel_matches_reference(name, pattern, dtype, ctx):
    instance = make_instance({"shape": [37, 50], "n": 21, "pattern": pattern, "dtype": dtype}, 3)
    assert_matches_reference(name, instance, instance.build_inputs(), ctx)


@pytest.mark.parametrize("shape, n", [([1, 8], 5), ([6, 1], 3), ([5, 7], 1), ([1, 1], 1),
                                      ([300, 130], 300)])
@pytest.mark.parametrize("name", CPU_KERNELS)
def test_edge_shapes(name, shape, n, ctx):
    """One row, one column, N=1, K not a multiple of m, and more than one tile/row block."""
    instance = build({"shape": shape, "n": n, "pattern": "1:4"}, seed=5)
    assert_matches_reference(name, instance, instance.build_inputs(), ctx)


@pytest.mark.parametrize("name", CPU_KERNELS)
def test_all_zero_weight(name, ctx):
    instance = build({"shape": [9, 12], "n": 4, "pattern": "2:4"}, seed=0)
    x = np.random.default_rng(0).standard_normal((12, 4)).astype(np.float32)
    inputs = SpmmInputs(np.zeros((9, 12), np.float32), np.zeros((9, 12), bool), x)
    result = run_kernel(name, instance, inputs, ctx)
    if result is not None:
        np.testing.assert_array_equal(result[1], np.zeros((9, 4)))


@pytest.mark.parametrize("name", ["dense", "scipy-csr", "csr-numba"])
def test_float16_where_supported(name, ctx):
    instance = build({"shape": [16, 24], "n": 8, "pattern": "2:4", "dtype": "float16"}, seed=1)
    assert_matches_reference(name, instance, instance.build_inputs(), ctx)


@pytest.mark.parametrize("name, params, why", [
    ("nm-numba", {"pattern": "unstructured(0.5)"}, "N:M pattern"),
    ("nm-numba", {"pattern": "dense"}, "N:M pattern"),
    ("nm-numba", {"pattern": "2:4", "dtype": "float16"}, "float16"),
    ("scipy-csr", {"pattern": "2:4", "dtype": "float16"}, "float16"),
    ("scipy-bsr", {"pattern": "2:4", "dtype": "float16"}, "float16"),
    ("csr-numba", {"pattern": "2:4", "dtype": "float16"}, "float16"),
    ("csr16-numba", {"pattern": "unstructured(0.5)", "dtype": "float16"}, "float16"),
    ("bitmap-numba", {"pattern": "2:4", "dtype": "float16"}, "float16"),
])
def test_unsupported_combinations_say_why(name, params, why, ctx):
    instance = build({"shape": [8, 8], "n": 4, **params}, seed=0)
    spec = find_kernel("spmm", name, "cpu")
    assert why in spec.unsupported_reason(instance)
    with pytest.raises(Unsupported, match=why):
        spec.prepare(instance, instance.build_inputs(), ctx)


def test_nm_numba_reports_its_format_costs(ctx):
    instance = build({"shape": [64, 128], "n": 32, "pattern": "1:4"}, seed=2)
    prep, _ = run_kernel("nm-numba", instance, instance.build_inputs(), ctx)
    slots = 64 * 128 // 4
    assert prep.flops == 2 * slots * 32
    assert prep.info["format_bytes"] == slots * (4 + 1)     # float32 value + uint8 index
    assert prep.bytes_min == slots * 5 + 4 * (128 * 32 + 64 * 32)


def test_repeated_runs_give_the_same_answer(ctx):
    """Buffers reused across calls (packed x, accumulators) must not leak between calls."""
    instance = build({"shape": [40, 64], "n": 300, "pattern": "2:8"}, seed=4)
    inputs = instance.build_inputs()
    prep, first = run_kernel("nm-numba", instance, inputs, ctx)
    second = prep.to_host(prep.run(prep.put(inputs.x)))
    np.testing.assert_array_equal(first, second)


def _gpu_reason():
    try:
        import cupy
    except ImportError:
        return "cupy is not installed"
    try:
        return None if cupy.cuda.is_available() else "no CUDA GPU visible to CuPy"
    except Exception as exc:
        return f"CUDA not usable: {exc}"


@pytest.mark.gpu
@pytest.mark.skipif(_gpu_reason() is not None, reason=str(_gpu_reason()))
@pytest.mark.parametrize("device, name", [("cuda", "dense"), ("cuda", "cusparse-csr"),
                                          ("cuda", "nm-cupy"), ("torch-cuda", "dense"),
                                          ("torch-cuda", "nm-cusparselt")])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_cuda_kernel_matches_reference(device, name, dtype):
    ctx = KernelContext(device=make_device(device))
    if ctx.device.unavailable_reason():
        pytest.skip(ctx.device.unavailable_reason())
    instance = build({"shape": [128, 256], "n": 64, "pattern": "2:4", "dtype": dtype}, seed=0)
    inputs = instance.build_inputs()
    spec = find_kernel("spmm", name, device)
    try:
        prep = spec.prepare(instance, inputs, ctx)
    except Unsupported as exc:
        assert spec.unsupported_reason(instance) or "torch" in str(exc), str(exc)
        pytest.skip(str(exc))
    output = prep.to_host(prep.run(prep.put(inputs.x)))
    check = instance.check(output, instance.reference(inputs, inputs.x), inputs, prep)
    assert check.valid, check.reason
