"""MoE kernels against the float64 reference on seeded inputs, including the edges:
one token, k = E, one expert taking every token, capacity so low most pairs drop,
gated and plain experts, shared experts, float16; every kernel on batch 0 and on a fresh
batch (different tokens and routing) from one prepare. CuPy kernels skip without a GPU.
"""

import numpy as np
import pytest

from suite.registry import KernelContext, find_kernel, get_family, kernel_names, make_device
from suite.workload import Prepared
from suite.workloads.moe import MoeOutput
from suite.workloads.moe_routing import dropped_pairs

CPU_KERNELS = ["dense", "loop", "grouped", "capacity"]
BASE = {"d_model": 24, "d_ff": 16, "experts": 6, "top_k": 2, "tokens": 40}
CASES = {
    "swiglu": {},
    "gelu": {"expert": "gelu"},
    "relu-zipf": {"expert": "relu", "routing": "zipf(1.2)"},
    "one-token": {"tokens": 1},
    "k-equals-E": {"top_k": 6},
    "all-to-one-expert": {"top_k": 1, "routing": "zipf(60)"},
    "most-dropped": {"capacity_factor": 0.1, "routing": "zipf(2)"},
    "shared-experts": {"shared_experts": 2, "routing": "zipf(1)"},
    "preset-scaled": {"model": "qwen1.5-moe-a2.7b", "scale": 64, "tokens": 33},
}


def build(params, seed=0):
    """What the harness does with one grid point: typed params, defaults, then ``build``."""
    return get_family("moe").instantiate(params, seed)


def make(case, seed=0, **extra):
    params = {**BASE, **CASES[case], **extra}
    if "model" in params:  # a preset case takes its shape from the preset
        params = {k: v for k, v in params.items() if k not in
                  ("d_model", "d_ff", "experts", "top_k")}
    return build(params, seed)


def prepare(name, inst, inputs, device="cpu", options=None):
    spec = find_kernel("moe", name, device)
    assert spec is not None, f"{name} is not registered on {device}"
    ctx = KernelContext(device=make_device(device), options=options or {})
    return spec.prepare(inst, inputs, ctx)


def call(prep, batch):
    """One call as the harness makes it: put (untimed), run, to_host."""
    return prep.to_host(prep.run(prep.put(batch)))


def run(name, inst, inputs, device="cpu", options=None):
    """Prepare ``name`` and run it on batch 0."""
    prep = prepare(name, inst, inputs, device, options)
    return prep, call(prep, inputs.batch)


def verdict(inst, inputs, prep, out, batch=None):
    batch = inputs.batch if batch is None else batch
    return inst.check(out, inst.reference(inputs, batch), inputs, prep, batch=batch)


def y_of(out):
    return out.y if isinstance(out, MoeOutput) else out


def test_kernels_are_registered():
    assert set(CPU_KERNELS) <= set(kernel_names("moe", "cpu"))
    assert {"dense", "grouped", "capacity"} <= set(kernel_names("moe", "cuda"))


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("name", CPU_KERNELS)
def test_kernel_matches_float64(name, case):
    inst = make(case, seed=7)
    inputs = inst.build_inputs()
    prep = prepare(name, inst, inputs)
    for batch in inst.batches(inputs, 2):  # batch 0, then fresh tokens and routing
        check = verdict(inst, inputs, prep, call(prep, batch), batch)
        assert check.valid, f"{name} on {inst.label}: {check.reason}"
        assert check.accuracy["rel_error_vs_semantics"] <= 1e-5
        if name != "capacity":
            assert check.accuracy["rel_error"] <= 1e-5


@pytest.mark.parametrize("name", CPU_KERNELS)
def test_kernels_follow_each_batch_and_a_stale_answer_fails(name):
    inst = make("shared-experts", seed=8, capacity_factor=0.6)
    inputs = inst.build_inputs()
    b0, b1, b2 = inst.batches(inputs, 3)
    assert not np.array_equal(b0.x, b1.x) and not np.array_equal(b0.expert_idx, b1.expert_idx)
    prep = prepare(name, inst, inputs)
    outs = [call(prep, b) for b in (b0, b1, b2, b0)]
    assert not np.allclose(y_of(outs[0]), y_of(outs[1]))
    np.testing.assert_allclose(y_of(outs[3]), y_of(outs[0]), rtol=1e-6)  # no state kept
    fed = (b0, b1, b2, b0)
    assert all(verdict(inst, inputs, prep, o, b).valid for o, b in zip(outs, fed, strict=True))
    stale = verdict(inst, inputs, prep, outs[0], b1)  # batch 0's answer given for batch 1
    assert not stale.valid


def test_capacity_reports_the_rule_and_pays_in_accuracy():
    inst = make("most-dropped", seed=1)
    inputs = inst.build_inputs()
    prep = prepare("capacity", inst, inputs)
    assert prep.semantics == {"drops_tokens": True, "capacity": inst.capacity}
    for batch in inst.batches(inputs, 2):
        out = call(prep, batch)
        np.testing.assert_array_equal(out.dropped, dropped_pairs(batch.expert_idx, inst.capacity))
        check = verdict(inst, inputs, prep, out, batch)
        assert check.valid and check.accuracy["dropped_token_rate"] > 0.5
        assert check.accuracy["rel_error"] > 0.1  # dropped tokens show up as output error


def test_exact_kernels_declare_no_semantics():
    inst = make("swiglu")
    inputs = inst.build_inputs()
    for name in ("dense", "loop", "grouped"):
        assert prepare(name, inst, inputs).semantics == {}


def test_a_capacity_kernel_whose_drops_break_the_rule_fails():
    inst = make("most-dropped", seed=1)
    inputs = inst.build_inputs()
    prep = prepare("capacity", inst, inputs)
    out = call(prep, inputs.batch)
    flipped = out.dropped.copy()
    flipped[0, 0] = not flipped[0, 0]
    check = verdict(inst, inputs, prep, MoeOutput(out.y, flipped))
    assert not check.valid and "capacity rule" in check.reason
    assert not verdict(inst, inputs, prep, out.y).valid  # no drop set reported


def test_a_wrong_kernel_output_is_invalid():
    inst = make("swiglu", seed=2)
    inputs = inst.build_inputs()
    prep, out = run("grouped", inst, inputs)
    broken = out.copy()
    broken[3] *= 1.01  # one token's output off by 1%
    assert not verdict(inst, inputs, prep, broken).valid


@pytest.mark.parametrize("name", CPU_KERNELS)
def test_float16(name):
    inst = make("swiglu", seed=3, dtype="float16")
    inputs = inst.build_inputs()
    prep, out = run(name, inst, inputs)
    assert y_of(out).dtype == np.float16
    assert verdict(inst, inputs, prep, out).valid


@pytest.mark.parametrize("options", [{"workers": 1, "blas_threads": 0}, {"workers": 3, "chunk_rows": 5}])
def test_grouped_options_and_repeat_runs(options):
    inst = make("relu-zipf", seed=4, tokens=97)
    inputs = inst.build_inputs()
    prep, first = run("grouped", inst, inputs, options=options)
    again = call(prep, inputs.batch)
    np.testing.assert_array_equal(first, again)
    assert verdict(inst, inputs, prep, again).valid
    other = inst.batches(inputs, 2)[1]
    assert verdict(inst, inputs, prep, call(prep, other), other).valid


@pytest.mark.parametrize("case", ["swiglu", "shared-experts", "one-token"])
def test_grouped_blas_path_with_vector_swiglu(case):
    # chunk_rows forces the numpy + BLAS path; float32 SwiGLU then runs the numba activation
    # on each chunk (d_ff 16: one masked vector per row), as wide experts do by default
    inst = make(case, seed=6)
    inputs = inst.build_inputs()
    prep, out = run("grouped", inst, inputs, options={"workers": 2, "chunk_rows": 7})
    assert verdict(inst, inputs, prep, out).valid
    other = inst.batches(inputs, 2)[1]
    assert verdict(inst, inputs, prep, call(prep, other), other).valid


def test_grouped_chunks_wide_experts_whole():
    from kernels.moe.cpu_grouped import _default_chunk_rows

    mixtral = build({"model": "mixtral-8x7b", "scale": 4})  # 44 MB per expert: beyond L2
    deepseek = build({"model": "deepseek-moe-16b", "scale": 8})  # 0.5 MB: the fused path
    assert _default_chunk_rows(mixtral) == 1024
    assert _default_chunk_rows(deepseek) == 2 * 1024 * 1024 // (352 * 4)  # h about 2 MiB
    assert _default_chunk_rows(build({"model": "mixtral-8x7b"})) == 292  # h capped at 32 MiB


def test_dense_and_capacity_declare_what_they_execute():
    inst = make("swiglu")
    inputs = inst.build_inputs()
    work = inst.work(inputs, inputs.batch)
    dense, _ = run("dense", inst, inputs)
    assert dense.flops == work.flops_dense and dense.bytes_min >= work.bytes_min
    grouped, _ = run("grouped", inst, inputs)
    assert grouped.flops == work.flops_useful


@pytest.mark.gpu
@pytest.mark.parametrize("case", ["swiglu", "most-dropped", "shared-experts", "one-token"])
@pytest.mark.parametrize("name", ["dense", "grouped", "capacity"])
def test_cuda_kernel_matches_float64(name, case):
    reason = make_device("cuda").unavailable_reason()  # no cupy, or no GPU visible
    if reason:
        pytest.skip(reason)
    inst = make(case, seed=5)
    inputs = inst.build_inputs()
    prep = prepare(name, inst, inputs, device="cuda")
    for batch in inst.batches(inputs, 2):
        check = verdict(inst, inputs, prep, call(prep, batch), batch)
        assert check.valid, f"cuda/{name} on {inst.label}: {check.reason}"


def test_grouped_chunks_cover_rows_and_keep_small_experts_whole():
    from kernels.moe.cpu_grouped import _chunks

    ends = [3, 3, 10, 12, 30]  # expert sizes 3, 0, 7, 2, 18
    chunks = _chunks(ends, 0, 30, rows=8)
    segments = [seg for _, _, segs in chunks for seg in segs]
    assert [(a0, a1) for _, a0, a1 in segments] == [
        (0, 3), (3, 10), (10, 12), (12, 18), (18, 24), (24, 30)]  # cut evenly, no short tail
    assert all(c1 - c0 <= 8 and segs[0][1] == c0 and segs[-1][2] == c1
               for c0, c1, segs in chunks)
    assert [e for e, _, _ in segments] == [0, 2, 3, 4, 4, 4]  # only the 18-row expert is cut


def test_capacity_buffer_larger_than_the_expert_id_type():
    # E * C = 64 * 625 = 40000 buffer rows: more than int16 expert ids can count
    inst = build({"d_model": 8, "d_ff": 4, "experts": 64, "top_k": 2, "tokens": 2000,
                  "capacity_factor": 10}, seed=0)
    inputs = inst.build_inputs()
    prep, out = run("capacity", inst, inputs)
    assert inst.capacity * inst.experts > 2**15
    assert verdict(inst, inputs, prep, out).valid


class _HostArray(np.ndarray):
    """A numpy array with CuPy's ``.get()``, so numpy can stand in for CuPy below."""

    def get(self):
        return np.asarray(self)


class _FakeCupy:
    """numpy behind CuPy's differences that the plans rely on (no ``kind=`` in argsort,
    ``.get()`` to reach the host), to run the GPU code paths where no GPU is."""

    def __getattr__(self, name):
        fn = getattr(np, name)
        if not callable(fn) or isinstance(fn, type):
            return fn

        def on_device(*args, **kwargs):
            out = fn(*args, **kwargs)
            return out.view(_HostArray) if isinstance(out, np.ndarray) else out

        return on_device

    @staticmethod
    def argsort(a):
        return np.argsort(a, kind="stable").view(_HostArray)


@pytest.mark.parametrize("make", ["make_dense", "make_grouped", "make_capacity"])
def test_gpu_code_paths_with_numpy_standing_in(make):
    from kernels.moe import plans
    from kernels.moe.ops import batch_to, output_to

    inst = build({**BASE, "capacity_factor": 0.5, "shared_experts": 1}, seed=6)
    inputs = inst.build_inputs()
    on_device = lambda a: np.asarray(a).view(_HostArray)  # noqa: E731
    plan = getattr(plans, make)(_FakeCupy(), on_device, inst, inputs)
    prep = Prepared(run=plan.run, semantics=plan.semantics)
    for batch in inst.batches(inputs, 2):
        out = output_to(np.asarray, plan.run(batch_to(on_device, batch)))
        check = verdict(inst, inputs, prep, out, batch)
        assert check.valid, check.reason


@pytest.mark.parametrize("d_model, d_ff, tokens", [(33, 17, 5), (7, 3, 40), (64, 44, 300),
                                                   (16, 16, 1)])
@pytest.mark.parametrize("options", [{"workers": 1}, {"workers": 2, "blas_threads": 1},
                                     {"workers": 3, "blas_threads": 1}])
def test_grouped_fused_path_on_odd_shapes_and_thread_splits(d_model, d_ff, tokens, options):
    """The fused numba FFN (float32 SwiGLU): masked tail vectors, fewer rows than one
    register block, and cuts between threads inside an expert all give the reference."""
    from kernels.moe import cpu_small_gemm
    inst = build({"d_model": d_model, "d_ff": d_ff, "experts": 8, "top_k": 3, "tokens": tokens,
                  "routing": "zipf(1.5)"}, seed=11)
    assert cpu_small_gemm.supported(inst)
    inputs = inst.build_inputs()
    prep, out = run("grouped", inst, inputs, options=options)
    check = verdict(inst, inputs, prep, out)
    assert check.valid and check.accuracy["rel_error"] <= 1e-5, check.reason


def test_grouped_takes_blas_when_an_experts_weights_outgrow_l2():
    from kernels.moe import cpu_small_gemm
    wide = build({"model": "deepseek-moe-16b", "scale": 4, "tokens": 4}, seed=0)   # d512
    narrow = build({"model": "deepseek-moe-16b", "scale": 8, "tokens": 4}, seed=0)  # d256
    gelu = build({**BASE, "expert": "gelu"}, seed=0)
    assert not cpu_small_gemm.supported(wide)
    assert cpu_small_gemm.supported(narrow)
    assert not cpu_small_gemm.supported(gelu)
    inputs = wide.build_inputs()
    prep, out = run("grouped", wide, inputs)
    assert verdict(wide, inputs, prep, out).valid
