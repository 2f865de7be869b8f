"""Devices a system runs on: the CPU (always), CUDA through CuPy or torch (where a GPU is).

A ``Device`` owns timing (the harness times, systems only answer), its measured peaks
(for roofline, S-MFU and S-MBU) and its description for ``env.json``. Each kind registers
with a check of whether it can run here that builds no device. Simulated devices
(``sim:<hw-config>``) register from ``simulators``. Main entry: ``suite.registry.make_device``.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from suite import metrics
from suite.registry import one_line, register_device_kind

Run = Callable[[Any], Any]


@dataclass(frozen=True)
class Peaks:
    """Measured ceilings of a device: dense float32 FLOP/s and memory bytes/s."""

    flops_per_s: float
    bytes_per_s: float
    method: str
    cache_bytes_per_s: float | None = None  # read bandwidth of the last-level cache
    cache_bytes: float | None = None  # working sets up to this size are read at that rate
    l2_bytes_per_s: float | None = None  # read bandwidth of the cores' L2s, all cores
    l2_bytes: float | None = None  # ... for working sets up to this size

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Peaks:
        """A reading as ``as_dict`` (or ``env.json``) wrote it; keys it does not know are
        left out, missing rates are 0 (older files have no cache levels)."""
        known = {f.name for f in fields(cls)} & set(data)
        return cls(**{"flops_per_s": 0.0, "bytes_per_s": 0.0, "method": "",
                      **{k: data[k] for k in known if data[k] is not None}})

    def memory_level(self, bytes_moved: float) -> tuple[str, float]:
        """(level, bytes/s) for a working set of ``bytes_moved`` (``suite.metrics.memory_level``)."""
        return metrics.memory_level(bytes_moved, self.bytes_per_s, self.cache_bytes_per_s,
                                    self.cache_bytes, self.l2_bytes_per_s, self.l2_bytes)

    def bandwidth_for(self, bytes_moved: float) -> float:
        return self.memory_level(bytes_moved)[1]

    def merged(self, other: Peaks) -> Peaks:
        """The best of two readings, figure by figure (peaks are ceilings)."""
        return Peaks(max(self.flops_per_s, other.flops_per_s),
                     max(self.bytes_per_s, other.bytes_per_s), other.method,
                     _max_or_none(self.cache_bytes_per_s, other.cache_bytes_per_s),
                     other.cache_bytes or self.cache_bytes,
                     _max_or_none(self.l2_bytes_per_s, other.l2_bytes_per_s),
                     other.l2_bytes or self.l2_bytes)


def _max_or_none(a: float | None, b: float | None) -> float | None:
    values = [v for v in (a, b) if v]
    return max(values) if values else None


class Device:
    """Base class. ``kind`` is the registry kind; ``name`` what configs and records say."""

    kind = "base"
    deterministic = False  # True where time comes from a model: one sample is exact

    def __init__(self, name: str):
        self.name = name

    def unavailable_reason(self) -> str | None:
        """Why this device cannot run here, or None."""
        return None

    def time_calls(self, run: Run, feed: Sequence[Any], start: int,
                   number: int) -> tuple[float, Any]:
        """Seconds for `number` back-to-back calls run(feed[(start + i) % len(feed)]) and
        the last call's output."""
        raise NotImplementedError

    def measure_peaks(self) -> Peaks:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind}

    @property
    def price_key(self) -> str:
        """The row of the price table this device is charged at."""
        return self.kind


class CpuDevice(Device):
    """The host CPU, timed with ``time.perf_counter`` around the loop of calls."""

    kind = "cpu"

    def time_calls(self, run: Run, feed: Sequence[Any], start: int,
                   number: int) -> tuple[float, Any]:
        args = rotation(feed, start, number)  # built before the clock starts
        out = None
        begin = time.perf_counter()
        for arg in args:
            out = run(arg)
        return time.perf_counter() - begin, out

    def measure_peaks(self) -> Peaks:
        flops = _best_rate(_cpu_gemm_flops())
        copy = _best_rate(_cpu_copy_bytes())
        try:
            stream, cache_rate, cache_bytes = _cpu_read_streams()
            l2_rate, l2_bytes = _cpu_l2_reads()
        except Exception:  # no numba threads here: the copy alone stands for memory
            return Peaks(flops, copy, "float32 GEMM 2048^3 (numpy BLAS); memory: 256 MiB "
                         "np.copyto, read+write bytes")
        method = ("float32 GEMM 2048^3 (numpy BLAS); memory: best of a 256 MiB np.copyto "
                  "(read+write bytes) and an all-core read of 512 MiB")
        if cache_rate:
            method += (f"; cache: all-core reads of {CACHE_PROBE_BYTES >> 20} MiB, for working "
                       f"sets up to half the {int(cache_bytes * 2) >> 20} MiB last-level cache")
        if l2_rate:
            method += (f"; L2: all-core re-reads of a quarter of each core's L2, for working "
                       f"sets up to 90% of the cores' {int(l2_bytes / 0.9) >> 20} MiB of L2")
        return Peaks(flops, max(copy, stream), method, cache_rate, cache_bytes, l2_rate,
                     l2_bytes)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "cpu_model": cpu_model(),
                "logical_cores": os.cpu_count(), "machine": platform.machine()}


class CudaDevice(Device):
    """A CUDA GPU through CuPy; timed with CUDA events after synchronizing."""

    kind = "cuda"

    def unavailable_reason(self) -> str | None:
        return cupy_unavailable()

    def time_calls(self, run: Run, feed: Sequence[Any], start: int,
                   number: int) -> tuple[float, Any]:
        import cupy
        args = rotation(feed, start, number)
        out = None
        cupy.cuda.Device().synchronize()
        begin, end = cupy.cuda.Event(), cupy.cuda.Event()
        begin.record()
        for arg in args:
            out = run(arg)
        end.record()
        end.synchronize()
        return cupy.cuda.get_elapsed_time(begin, end) / 1e3, out

    def measure_peaks(self) -> Peaks:
        import cupy
        a = cupy.random.random((8192, 8192), dtype=cupy.float32)
        gemm = _best_rate(lambda: _timed_gpu(lambda: a @ a, 2 * 8192**3))
        src = cupy.empty(2**28, dtype=cupy.uint8)
        dst = cupy.empty_like(src)
        copy = _best_rate(lambda: _timed_gpu(lambda: dst.__setitem__(..., src), 2 * src.nbytes))
        return Peaks(gemm, copy, "float32 GEMM 8192^3 (cuBLAS); 256 MiB device copy, read+write")

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.unavailable_reason() is None:
            import cupy
            props = cupy.cuda.runtime.getDeviceProperties(0)
            info.update(gpu=props["name"].decode(), driver=cupy.cuda.runtime.driverGetVersion(),
                        runtime=cupy.cuda.runtime.runtimeGetVersion(),
                        memory_bytes=props["totalGlobalMem"])
        return info

    @property
    def price_key(self) -> str:
        described = self.describe().get("gpu", "cuda")
        return str(described)


class TorchCudaDevice(Device):
    """A CUDA GPU through torch; timed with ``torch.cuda.Event`` after synchronizing."""

    kind = "torch-cuda"

    def unavailable_reason(self) -> str | None:
        return torch_cuda_unavailable()

    def time_calls(self, run: Run, feed: Sequence[Any], start: int,
                   number: int) -> tuple[float, Any]:
        import torch
        args = rotation(feed, start, number)
        out = None
        torch.cuda.synchronize()
        begin = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        begin.record()
        for arg in args:
            out = run(arg)
        end.record()
        end.synchronize()
        return begin.elapsed_time(end) / 1e3, out

    def measure_peaks(self) -> Peaks:
        import torch
        a = torch.rand((8192, 8192), dtype=torch.float32, device="cuda")
        gemm = _best_rate(lambda: _timed_torch(lambda: a @ a, 2 * 8192**3))
        src = torch.empty(2**28, dtype=torch.uint8, device="cuda")
        dst = torch.empty_like(src)
        copy = _best_rate(lambda: _timed_torch(lambda: dst.copy_(src), 2 * src.numel()))
        tf32 = torch.backends.cuda.matmul.allow_tf32
        return Peaks(gemm, copy, f"float32 GEMM 8192^3 (torch.matmul, allow_tf32={tf32}); "
                                 "256 MiB device copy, read+write")

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.unavailable_reason() is None:
            import torch
            props = torch.cuda.get_device_properties(0)
            info.update(gpu=props.name, torch=torch.__version__, cuda=torch.version.cuda,
                        memory_bytes=props.total_memory)
        return info

    @property
    def price_key(self) -> str:
        return str(self.describe().get("gpu", "cuda"))


def torch_cuda_unavailable() -> str | None:
    """Why torch cannot run CUDA here, or None."""
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed (pip install '.[torch]')"
    try:
        import torch
        if not torch.cuda.is_available():
            return "no CUDA GPU visible to torch"
    except Exception as exc:
        return f"CUDA not usable through torch: {one_line(exc)}"
    return None


def cupy_unavailable() -> str | None:
    """Why CuPy cannot run CUDA here, or None."""
    if importlib.util.find_spec("cupy") is None:
        return "cupy is not installed (pip install '.[gpu]')"
    try:
        import cupy
        if not cupy.cuda.is_available():
            return "no CUDA GPU visible to CuPy"
    except Exception as exc:  # a broken driver or a wheel for another CUDA says so here
        return f"CUDA not usable through CuPy: {one_line(exc)}"
    return None


def rotation(feed: Sequence[Any], start: int, number: int) -> list[Any]:
    """The arguments of ``number`` calls: ``feed[(start + i) % len(feed)]`` for i < number."""
    if not len(feed):
        raise ValueError("time_calls: feed is empty; allowed: at least one argument")
    if number < 1:
        raise ValueError(f"time_calls: number={number}; allowed: an integer >= 1")
    size = len(feed)
    return [feed[(start + i) % size] for i in range(number)]


def _best_rate(measure, runs: int = 5) -> float:
    """Best of a few runs: peaks are ceilings, so noise only ever lowers them."""
    measure()
    return max(measure() for _ in range(runs))


def _cpu_gemm_flops():
    """A measurement of GEMM FLOP/s; its operands are made once, not per run."""
    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    out = np.empty_like(a)

    def measure() -> float:
        start = time.perf_counter()
        np.matmul(a, a, out=out)
        return 2 * 2048**3 / (time.perf_counter() - start)
    return measure


@functools.lru_cache(maxsize=1)
def _copy_buffers() -> tuple[np.ndarray, np.ndarray]:
    """Two 256 MiB buffers, made and touched once per process: on this VM mapping their pages
    takes ~4 s, 30x the copies themselves, and peaks are re-measured every PEAK_EVERY_S."""
    src = np.ones(2**28, dtype=np.uint8)
    dst = np.zeros_like(src)
    np.copyto(dst, src)  # every page of dst mapped before anything is timed
    return src, dst


CACHE_PROBE_BYTES = 16 << 20  # at most a quarter of the last-level cache


def _cpu_read_streams() -> tuple[float, float | None, float | None]:
    """All-core read bandwidth over both copy buffers (512 MiB: beyond the cache), and over a
    slice that fits the last-level cache with the size up to which that rate is used (half
    the cache: the rest of the run's data shares it); None, None where no cache size is known."""
    from suite import bandwidth  # numba: imported only where peaks are measured

    src, dst = _copy_buffers()
    stream = _best_rate(lambda: bandwidth.read_rate([src, dst]))
    llc = bandwidth.llc_bytes()
    if not llc or llc < 4 * (1 << 20):
        return stream, None, None
    part = src[:min(CACHE_PROBE_BYTES, llc // 4)]
    cache = _best_rate(lambda: bandwidth.read_rate([part], passes=8))
    return stream, cache, llc / 2


def _cpu_l2_reads() -> tuple[float | None, float | None]:
    """All-core read bandwidth of chunks that stay in each core's L2 (a quarter of it per
    thread, re-read in place), and the working-set size it stands for (90% of the threads'
    L2s together); None, None where the L2 size is unknown."""
    from suite import bandwidth

    l2 = bandwidth.cache_sizes().get(2)
    if not l2:
        return None, None
    src, _ = _copy_buffers()
    part = src[:l2 // 4 * bandwidth.threads()]
    rate = _best_rate(lambda: bandwidth.read_rate([part], repeats=64))
    return rate, 0.9 * l2 * bandwidth.threads()


def _cpu_copy_bytes():
    """A measurement of copy bandwidth (read + write bytes of one np.copyto)."""
    src, dst = _copy_buffers()

    def measure() -> float:
        start = time.perf_counter()
        np.copyto(dst, src)
        return 2 * src.nbytes / (time.perf_counter() - start)
    return measure


def _timed_gpu(fn, work: float) -> float:
    import cupy
    cupy.cuda.Device().synchronize()
    start, end = cupy.cuda.Event(), cupy.cuda.Event()
    start.record()
    fn()
    end.record()
    end.synchronize()
    return work / (cupy.cuda.get_elapsed_time(start, end) / 1e3)


def _timed_torch(fn, work: float) -> float:
    import torch
    torch.cuda.synchronize()
    begin = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    begin.record()
    fn()
    end.record()
    end.synchronize()
    return work / (begin.elapsed_time(end) / 1e3)


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``, else ``platform.processor()``)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


register_device_kind("cpu", lambda arg: CpuDevice("cpu"), "the host CPU (always available)")
register_device_kind("cuda", lambda arg: CudaDevice("cuda"), "a CUDA GPU through CuPy",
                     unavailable=cupy_unavailable)
register_device_kind("torch-cuda", lambda arg: TorchCudaDevice("torch-cuda"),
                     "a CUDA GPU through torch", unavailable=torch_cuda_unavailable)
