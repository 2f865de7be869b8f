"""Devices time what the harness feeds them: rotation over the feed, the last output, the
clock around the calls only; GPU kinds say why they cannot run, and import lazily."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from suite import registry
from suite.devices import (
    CpuDevice,
    CudaDevice,
    TorchCudaDevice,
    cupy_unavailable,
    torch_cuda_unavailable,
)

REPO = Path(__file__).resolve().parents[1]


class Recorder:
    """A kernel's ``run``: remembers each argument and answers with the call's number."""

    def __init__(self, log: list | None = None):
        self.args: list = []
        self.log = log if log is not None else []

    def __call__(self, batch):
        self.args.append(batch)
        self.log.append(("run", batch))
        return f"output {len(self.args)} of {batch}"


def test_cpu_time_calls_rotates_from_start_and_returns_the_last_output():
    run = Recorder()
    seconds, last = CpuDevice("cpu").time_calls(run, ["a", "b", "c"], start=2, number=5)
    assert run.args == ["c", "a", "b", "c", "a"]
    assert last == "output 5 of a"
    assert 0.0 <= seconds < 1.0


def test_cpu_time_calls_times_the_calls():
    seconds, last = CpuDevice("cpu").time_calls(lambda q: time.sleep(0.01) or q, [7], 0, 3)
    assert seconds >= 0.03 and last == 7


@pytest.mark.parametrize("feed, number, message", [
    ([], 1, "feed is empty"),
    ([1], 0, "number=0; allowed: an integer >= 1"),
])
def test_cpu_time_calls_refuses_what_cannot_be_timed(feed, number, message):
    with pytest.raises(ValueError, match=message):
        CpuDevice("cpu").time_calls(Recorder(), feed, 0, number)


class FakeClock:
    """Events that read the host clock, recording when they and synchronize are called."""

    def __init__(self, log: list):
        self.log = log

    def event(self, enable_timing: bool = False):
        clock = self

        class Event:
            def __init__(self):
                self.at = None

            def record(self):
                clock.log.append("record")
                self.at = time.perf_counter()

            def synchronize(self):
                clock.log.append("event.synchronize")

            def elapsed_time(self, end):  # milliseconds, as torch and CUDA say
                return (end.at - self.at) * 1e3

        assert enable_timing or clock.cupy, "torch events must be made with enable_timing=True"
        return Event()


def fake_torch(monkeypatch, log: list, gpu: bool = True) -> types.ModuleType:
    clock = FakeClock(log)
    clock.cupy = False
    torch = types.ModuleType("torch")
    torch.__spec__ = importlib.machinery.ModuleSpec("torch", None)
    torch.__version__ = "9.9.0"
    torch.version = types.SimpleNamespace(cuda="12.8")
    torch.cuda = types.SimpleNamespace(
        is_available=lambda: gpu, synchronize=lambda: log.append("synchronize"),
        Event=clock.event,
        get_device_properties=lambda i: types.SimpleNamespace(name="Fake GPU",
                                                              total_memory=2**30))
    monkeypatch.setitem(sys.modules, "torch", torch)
    return torch


def test_torch_cuda_synchronizes_then_times_with_events(monkeypatch):
    log: list = []
    fake_torch(monkeypatch, log)
    run = Recorder(log)
    seconds, last = TorchCudaDevice("torch-cuda").time_calls(run, ["x", "y"], 1, 3)
    assert log == ["synchronize", "record", ("run", "y"), ("run", "x"), ("run", "y"),
                   "record", "event.synchronize"]
    assert last == "output 3 of y" and 0.0 <= seconds < 1.0


def test_torch_cuda_describes_the_gpu_and_versions(monkeypatch):
    fake_torch(monkeypatch, [])
    device = registry.make_device("torch-cuda")
    assert isinstance(device, TorchCudaDevice)
    assert device.describe() == {"name": "torch-cuda", "kind": "torch-cuda", "gpu": "Fake GPU",
                                 "torch": "9.9.0", "cuda": "12.8", "memory_bytes": 2**30}
    assert device.price_key == "Fake GPU"


def test_torch_cuda_says_why_it_cannot_run(monkeypatch):
    fake_torch(monkeypatch, [], gpu=False)
    assert torch_cuda_unavailable() == "no CUDA GPU visible to torch"
    assert registry.device_unavailable("torch-cuda") == "no CUDA GPU visible to torch"
    assert TorchCudaDevice("torch-cuda").describe() == {"name": "torch-cuda",
                                                        "kind": "torch-cuda"}


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed")
def test_torch_cuda_without_torch_says_how_to_install_it():
    assert registry.device_unavailable("torch-cuda") == (
        "torch is not installed (pip install '.[torch]')")


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="cupy is installed")
def test_cuda_without_cupy_says_how_to_install_it():
    assert cupy_unavailable() == "cupy is not installed (pip install '.[gpu]')"
    assert registry.device_unavailable("cuda") == cupy_unavailable()


def test_cupy_cuda_synchronizes_then_times_with_events(monkeypatch):
    log: list = []
    clock = FakeClock(log)
    clock.cupy = True
    cuda = types.SimpleNamespace(
        Device=lambda: types.SimpleNamespace(synchronize=lambda: log.append("synchronize")),
        Event=clock.event, get_elapsed_time=lambda begin, end: begin.elapsed_time(end))
    cupy = types.ModuleType("cupy")
    cupy.cuda = cuda
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    run = Recorder(log)
    seconds, last = CudaDevice("cuda").time_calls(run, ["x"], 0, 2)
    assert log == ["synchronize", "record", ("run", "x"), ("run", "x"), "record",
                   "event.synchronize"]
    assert last == "output 2 of x" and seconds >= 0.0


def test_loading_the_devices_never_imports_torch(tmp_path):
    # A torch that records being imported: loading every plug-in and making the
    # device must not touch it; only a check or a timed call may.
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text(
        "import os\nopen(os.environ['MARK'], 'w').close()\n")
    mark = tmp_path / "imported"
    code = ("from suite import registry\nregistry.load_plugins()\n"
            "registry.make_device('torch-cuda')\nimport sys\nprint('torch' in sys.modules)\n")
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{tmp_path}", "MARK": str(mark)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False" and not mark.exists()


def test_the_cpu_peaks_read_memory_on_every_core_and_know_the_cache():
    from suite import bandwidth

    peaks = CpuDevice("cpu").measure_peaks()
    assert peaks.bytes_per_s > 1e9 and "all-core read" in peaks.method
    if bandwidth.llc_bytes():
        assert peaks.cache_bytes == bandwidth.llc_bytes() / 2
        assert peaks.bandwidth_for(64 << 20) == max(peaks.cache_bytes_per_s, peaks.bytes_per_s)
        assert peaks.bandwidth_for(4 * peaks.cache_bytes) == peaks.bytes_per_s
    if bandwidth.cache_sizes().get(2):
        assert peaks.l2_bytes == 0.9 * bandwidth.cache_sizes()[2] * bandwidth.threads()
        assert peaks.bandwidth_for(peaks.l2_bytes) >= peaks.bandwidth_for(peaks.l2_bytes + 1)


def test_the_read_probe_reads_whole_rows_of_every_buffer():
    import numpy as np

    from suite import bandwidth

    buffer = np.ones(3 * bandwidth.WIDTH + 7, dtype=np.float32)
    assert bandwidth.as_rows(buffer).shape == (3, bandwidth.WIDTH)
    assert bandwidth.read_rate([buffer, buffer]) > 0
    assert bandwidth.read_rate([buffer], repeats=3) > 0
    assert bandwidth._parse_size("491520K") == 491520 * 1024
