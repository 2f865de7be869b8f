"""Our CPU kernels on every path they pick (gather, expand, tiled) and every instruction set
this machine can run (the AVX2 and generic loops forced on an AVX-512 machine through the
``isa`` option), against the float64 reference with the family's per-dtype tolerance.
"""

import numpy as np
import pytest

from kernels.spmm import isa
from kernels.spmm import llvm_vec as lv
from kernels.spmm.paths import nm_path_name
from suite.context import KernelContext
from suite.registry import find_kernel, get_family, make_device

build = get_family("spmm").instantiate
OURS = ["nm-numba", "csr16-numba", "bitmap-numba"]
RUNNABLE = list(isa.ISAS[isa.ISAS.index(isa.hardware()):])  # this CPU's and every narrower


def run_checked(name, params, isa_name, seed=1):
    instance = build(params, seed)
    inputs = instance.build_inputs()
    spec = find_kernel("spmm", name, "cpu")
    if spec.missing_needs():
        pytest.skip(spec.missing_needs())
    ctx = KernelContext(device=make_device("cpu"), options={"isa": isa_name})
    prep = spec.prepare(instance, inputs, ctx)
    for batch in instance.batches(inputs, 2):  # a second batch: no answer cached
        out = prep.to_host(prep.run(prep.put(batch)))
        check = instance.check(out, instance.reference(inputs, batch), inputs, prep, batch)
        assert check.valid, f"{name} [{isa_name}, {prep.info.get('path')}] {instance.label}: " \
                            f"{check.reason}"
    assert prep.info["isa"] == isa_name
    return prep


# (shape, N, pattern): every path of nm-numba and both of csr16-numba, odd shapes, K not a
# multiple of m or of a vector, N = 1, N past one pass (17) and past one tile (200).
CASES = [
    ([37, 50], 1, "1:4"),    # nm permute (AVX-512, AVX2 float32), gather (generic, AVX2 f64)
    ([23, 333], 1, "1:8"),   # the same, several steps and a partial one
    ([9, 100], 1, "1:16"),   # nm gather (m/n = 16: too many permutes)
    ([37, 50], 1, "2:4"),    # nm expand at N = 1 (AVX2 float32: permute)
    ([29, 70], 3, "2:4"),    # nm expand, N = 3
    ([33, 45], 16, "1:8"),   # nm tiled, one vector wide (the group tail only)
    ([21, 300], 16, "2:4"),  # nm tiled, one vector wide, values loaded L at a time
    ([19, 530], 7, "1:8"),   # the same with n = 1
    ([40, 75], 17, "3:8"),   # nm tiled, n = 3
    ([70, 130], 200, "2:4"),  # two tiles
    ([5, 7], 1, "unstructured(0.3)"),
    ([48, 300], 1, "unstructured(0.1)"),
    ([31, 90], 5, "unstructured(0.5)"),
    ([65, 40], 33, "unstructured(0.25)"),
]


@pytest.mark.parametrize("isa_name", RUNNABLE)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape, n, pattern", CASES)
@pytest.mark.parametrize("name", OURS)
def test_every_path_and_isa_matches_reference(name, shape, n, pattern, dtype, isa_name):
    if name == "nm-numba" and not pattern[0].isdigit():
        pytest.skip("nm-numba runs N:M patterns only")
    if isa_name == "generic" and dtype == "float64":
        pytest.skip("the generic fallback is checked in float32 (its compile time adds up)")
    run_checked(name, {"shape": shape, "n": n, "pattern": pattern, "dtype": dtype}, isa_name)


@pytest.mark.parametrize("n_cols, pattern, path", [
    (1, "1:4", "permute"), (1, "1:8", "permute"), (1, "1:16", "gather"), (1, "2:4", "expand"),
    (1, "3:16", "expand"),
    (4, "2:4", "expand"), (4, "1:8", "tiled"), (16, "2:4", "tiled"), (256, "1:4", "tiled"),
])
def test_nm_numba_picks_its_path_by_shape(n_cols, pattern, path):
    n, m = (int(v) for v in pattern.split(":"))
    assert nm_path_name(n, m, n_cols, lv.MODE_AVX512, "float32") == path
    if path == "permute" and isa.hardware() != "avx512":
        pytest.skip("the permute path is AVX-512 only")
    prep = run_checked("nm-numba", {"shape": [24, 64], "n": n_cols, "pattern": pattern},
                       isa.hardware())
    assert prep.info["path"] == path


def test_csr16_uses_wide_indices_past_65536_columns():
    prep = run_checked("csr16-numba", {"shape": [3, 70000], "n": 2,
                                       "pattern": "unstructured(0.01)"}, isa.hardware())
    assert prep.info["index_bytes"] == 4


def test_reported_bytes_are_the_formats():
    """Generic loops at N = 1: 2:4 (expand) reads values + 1 bit per position + row
    pointers; 1:8 (gather) values + one index byte each; CSR values + 2-byte columns + row
    pointers."""
    m, k = 16, 128
    io = 4 * (k + m)
    prep = run_checked("nm-numba", {"shape": [m, k], "n": 1, "pattern": "2:4"}, "generic")
    assert prep.info["path"] == "expand"
    assert prep.bytes_min == m * k // 2 * 4 + m * k // 8 + 8 * (m + 1) + io
    prep = run_checked("nm-numba", {"shape": [m, k], "n": 1, "pattern": "1:8"}, "generic")
    assert prep.bytes_min == m * k // 8 * 5 + io
    prep = run_checked("csr16-numba", {"shape": [m, k], "n": 1, "pattern": "1:8"}, "generic")
    assert prep.bytes_min == m * k // 8 * 6 + 8 * (m + 1) + io


def test_all_zero_and_empty_rows():
    instance = build({"shape": [9, 40], "n": 3, "pattern": "unstructured(0.05)"}, seed=2)
    inputs = instance.build_inputs()
    inputs.weight[:] = 0
    inputs.weight[4, 7] = 1.5
    ctx = KernelContext(device=make_device("cpu"))
    for name in ("csr16-numba", "bitmap-numba"):
        prep = find_kernel("spmm", name, "cpu").prepare(instance, inputs, ctx)
        out = prep.to_host(prep.run(inputs.x))
        expected = np.zeros((9, 3), np.float32)
        expected[4] = 1.5 * inputs.x[7]
        np.testing.assert_allclose(out, expected, rtol=1e-6)
