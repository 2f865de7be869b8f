"""Devices a system runs on: the CPU (always), CUDA through CuPy (where a GPU is present).

A ``Device`` owns timing (the harness times, systems only answer), its measured peaks
(for roofline, S-MFU and S-MBU) and its description for ``env.json``. Simulated devices
(``sim:<hw-config>``) register from ``simulators``. Main entry: ``suite.registry.make_device``.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from suite.registry import register_device_kind
from suite.workload import Prepared


@dataclass(frozen=True)
class Peaks:
    """Measured ceilings of a device: dense float32 FLOP/s and memory bytes/s."""

    flops_per_s: float
    bytes_per_s: float
    method: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Device:
    """Base class. ``kind`` is the registry kind; ``name`` what configs and records say."""

    kind = "base"
    deterministic = False  # True where time comes from a model: one sample is exact

    def __init__(self, name: str):
        self.name = name

    def unavailable_reason(self) -> str | None:
        """Why this device cannot run here, or None."""
        return None

    def time_calls(self, prepared: Prepared, number: int) -> float:
        """Seconds for ``number`` back-to-back calls of ``prepared.run``."""
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
    kind = "cpu"

    def time_calls(self, prepared: Prepared, number: int) -> float:
        run = prepared.run
        start = time.perf_counter()
        for _ in range(number):
            run()
        return time.perf_counter() - start

    def measure_peaks(self) -> Peaks:
        return Peaks(_best_rate(_cpu_gemm_flops), _best_rate(_cpu_copy_bytes),
                     "float32 GEMM 2048^3 (numpy BLAS); 256 MiB np.copyto, read+write bytes")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "cpu_model": _cpu_model(),
                "logical_cores": os.cpu_count(), "machine": platform.machine()}


class CudaDevice(Device):
    """A CUDA GPU through CuPy; timed with CUDA events after synchronizing."""

    kind = "cuda"

    def unavailable_reason(self) -> str | None:
        try:
            import cupy
        except ImportError:
            return "cupy is not installed (pip install '.[gpu]')"
        try:
            if not cupy.cuda.is_available():
                return "no CUDA GPU visible to CuPy"
        except Exception as exc:  # a broken driver says so here
            return f"CUDA not usable: {exc}"
        return None

    def time_calls(self, prepared: Prepared, number: int) -> float:
        import cupy
        run = prepared.run
        cupy.cuda.Device().synchronize()
        start, end = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        for _ in range(number):
            run()
        end.record()
        end.synchronize()
        return cupy.cuda.get_elapsed_time(start, end) / 1e3

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


def _best_rate(measure, runs: int = 5) -> float:
    """Best of a few runs: peaks are ceilings, so noise only ever lowers them."""
    measure()
    return max(measure() for _ in range(runs))


def _cpu_gemm_flops() -> float:
    rng = np.random.default_rng(0)
    a = rng.random((2048, 2048), dtype=np.float32)
    start = time.perf_counter()
    a @ a
    return 2 * 2048**3 / (time.perf_counter() - start)


def _cpu_copy_bytes() -> float:
    src = np.ones(2**28, dtype=np.uint8)
    dst = np.zeros_like(src)  # touched first, so page faults are not timed as bandwidth
    start = time.perf_counter()
    np.copyto(dst, src)
    return 2 * src.nbytes / (time.perf_counter() - start)


def _timed_gpu(fn, work: float) -> float:
    import cupy
    cupy.cuda.Device().synchronize()
    start, end = cupy.cuda.Event(), cupy.cuda.Event()
    start.record()
    fn()
    end.record()
    end.synchronize()
    return work / (cupy.cuda.get_elapsed_time(start, end) / 1e3)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


register_device_kind("cpu", lambda arg: CpuDevice("cpu"), "the host CPU (always available)")
register_device_kind("cuda", lambda arg: CudaDevice("cuda"), "a CUDA GPU through CuPy")
