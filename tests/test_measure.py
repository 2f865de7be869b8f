"""The timing loop on a fake clock: validated first, round-robin, equal samples, limits.

A fake-clock device makes timing exact and instant: each kernel's call costs a set number
of fake seconds, and the device logs which system took each sample, so the order of the
loop itself is what these tests read.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from suite import registry
from suite.build_group import SharedBuild
from suite.config import MeasureSettings, SystemEntry
from suite.context import ArtifactCache
from suite.devices import CpuDevice
from suite.measure import GroupMeasurement, Row
from suite.plan import System
from tests.toy_family import ToyInstance


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeClockDevice(CpuDevice):
    """Each call of kernel K costs COST_S[K] fake seconds; every timed call is logged."""

    def __init__(self, clock: FakeClock, cost_s: dict[str, float]):
        super().__init__("cpu")
        self.clock, self.cost_s, self.log, self.fed = clock, cost_s, [], []

    def time_calls(self, run, feed, start, number):
        out = None
        for i in range(number):
            out = run(feed[(start + i) % len(feed)])
            self.fed.append((run.kernel, (start + i) % len(feed)))
        seconds = self.cost_s[run.kernel] * number
        self.clock.now += seconds
        self.log.append(run.kernel)
        return seconds, out


SETTINGS = MeasureSettings(warmup=1, min_repeats=4, max_repeats=20, min_time_s=0.05,
                           sample_time_s=0.001)


def measure(kernels: list[str], cost_s: dict[str, float], settings=SETTINGS, options=None):
    clock = FakeClock()
    device = FakeClockDevice(clock, cost_s)
    instance = ToyInstance({"size": 8}, 0)
    rows = []
    for name in kernels:
        spec = registry.find_kernel("toy", name, "cpu")
        spec = replace(spec, prepare=_tagged(spec.prepare, name))
        entry = SystemEntry("cpu", name, options=(options or {}).get(name, {}))
        rows.append(Row(instance, System(entry, spec, device, name == "dense")))
    shared = SharedBuild([instance], settings)
    outcomes = GroupMeasurement(rows, shared, ArtifactCache(), clock=clock).run()
    measure.device = device
    return {o.system.spec.name: o for o in outcomes}, device.log


def _tagged(prepare, name):
    """Wrap a kernel so the fake device knows whose call it times."""
    def wrapped(instance, inputs, ctx):
        prepared = prepare(instance, inputs, ctx)
        inner = prepared.run
        call = (lambda x: inner(x)) if inner.__code__.co_argcount else (lambda: inner())
        call.kernel = name
        prepared.run = call
        return prepared
    return wrapped


def _after_warmup(log: list[str], kernels: list[str], warm_calls: int) -> list[str]:
    return log[warm_calls * len(kernels):]


def test_systems_are_sampled_round_robin_never_one_after_another():
    kernels = ["dense", "good", "slow"]
    outcomes, log = measure(kernels, {"dense": 0.004, "good": 0.001, "slow": 0.02},
                            options={"slow": {"delay_s": 0.0}})
    timed = _after_warmup(log, kernels, SETTINGS.warmup + 1)
    rounds = [timed[i:i + 3] for i in range(0, len(timed), 3)]
    assert len(rounds) >= SETTINGS.min_repeats
    assert all(sorted(r) == sorted(kernels) for r in rounds), rounds


def test_every_system_stays_in_the_round_until_all_are_done():
    outcomes, _ = measure(["dense", "good"], {"dense": 0.0005, "good": 0.02})
    counts = {name: len(o.samples_s) for name, o in outcomes.items()}
    assert counts["dense"] == counts["good"] >= SETTINGS.min_repeats


def test_fast_calls_are_batched_to_the_slowest_systems_sample_length():
    outcomes, _ = measure(["dense", "good"], {"dense": 0.01, "good": 0.001})
    assert outcomes["dense"].calls_per_sample == 1
    assert outcomes["good"].calls_per_sample == 10


def test_a_system_past_max_time_s_stops_and_its_row_says_so():
    settings = replace(SETTINGS, max_time_s=0.05, min_time_s=0.04, max_repeats=50)
    outcomes, _ = measure(["dense", "slow"], {"dense": 0.001, "slow": 0.02}, settings,
                          options={"slow": {"delay_s": 0.0}})
    slow = outcomes["slow"]
    assert slow.status == "ok" and len(slow.samples_s) < settings.min_repeats
    assert any("max_time_s" in f for f in slow.flags)
    assert any(f.startswith("fewer_samples: ") for f in slow.flags)
    assert not outcomes["dense"].flags


def test_rows_with_max_repeats_reached_are_not_flagged():
    settings = replace(SETTINGS, max_repeats=4, min_repeats=4, min_time_s=10.0)
    outcomes, _ = measure(["dense", "good"], {"dense": 0.001, "good": 0.001}, settings)
    assert all(len(o.samples_s) == 4 and not o.flags for o in outcomes.values())


def test_a_kernel_that_caches_its_first_answer_fails_validation():
    outcomes, log = measure(["dense", "cached"], {"dense": 0.001, "cached": 0.0001})
    cached = outcomes["cached"]
    assert cached.status == "failed" and cached.samples_s == []
    assert "wrong result" in cached.reason and "batch 1" in cached.reason
    assert "cached" not in log


def test_a_kernel_that_goes_stale_while_timed_fails_the_recheck():
    outcomes, _ = measure(["dense", "stale"], {"dense": 0.001, "stale": 0.0001})
    stale = outcomes["stale"]
    assert stale.status == "failed"
    assert stale.reason.startswith("wrong result in the timed loop")


def test_calls_rotate_among_the_batches():
    measure(["dense", "good"], {"dense": 0.001, "good": 0.001})
    fed = [index for kernel, index in measure.device.fed if kernel == "good"]
    assert fed[:6] == [0, 1, 2, 0, 1, 2]  # the toy family makes 3 batches by default


def test_a_v1_kernel_still_runs_with_a_flag():
    outcomes, _ = measure(["dense", "v1"], {"dense": 0.001, "v1": 0.001})
    v1 = outcomes["v1"]
    assert v1.status == "ok" and len(v1.samples_s) >= SETTINGS.min_repeats
    assert any(f.startswith("v1-kernel") for f in v1.flags)


def test_one_at_a_time_times_each_system_beside_the_baseline_and_frees_it():
    settings = replace(SETTINGS, mode="one-at-a-time")
    outcomes, log = measure(["dense", "good", "slow"], {"dense": 0.002, "good": 0.001,
                                                        "slow": 0.001}, settings,
                            options={"slow": {"delay_s": 0.0}})
    good = outcomes["good"]
    assert good.status == "ok" and good.prepared is None          # freed after its pairing
    assert good.baseline_samples_s and len(good.baseline_samples_s) == len(good.samples_s)
    timed = [k for k in log if k in ("good", "slow")]
    first_slow = timed.index("slow")
    assert set(timed[:first_slow]) == {"good"} and "good" not in timed[first_slow:]


@pytest.mark.parametrize("scenario", ["per_query"])
def test_per_query_times_one_call_per_sample(scenario):
    settings = replace(SETTINGS, scenario=scenario, queries=6)
    outcomes, _ = measure(["dense", "good"], {"dense": 0.001, "good": 0.0001}, settings)
    assert all(o.calls_per_sample == 1 for o in outcomes.values())


def test_per_query_times_every_query_several_times_so_its_noise_can_be_told_from_its_cost():
    from suite.measure import REPEATS_PER_QUERY

    settings = replace(SETTINGS, scenario="per_query", queries=6, max_repeats=5)
    outcomes, _ = measure(["dense", "good"], {"dense": 0.001, "good": 0.0001}, settings)
    for outcome in outcomes.values():
        assert outcome.rotation == 6
        assert len(outcome.samples_s) >= REPEATS_PER_QUERY * 6  # above max_repeats
