"""Timing owned by the harness: validate first, warm up, then interleave every system.

For one instance on one device: each system is prepared (untimed), run once and checked
against the reference (a wrong result fails the row, it is never timed), warmed up, then
all surviving systems are timed round-robin — the dense baseline among them — until each
has ``min_repeats`` samples and ``min_time_s`` of measurement (or ``max_repeats``).
Fast calls are batched so one sample lasts at least ``sample_time_s``.
Main entry: ``measure_group(instance, inputs, reference, systems, settings) -> list[Outcome]``.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from suite.config import MeasureSettings
from suite.errors import Unsupported
from suite.plan import System
from suite.registry import KernelContext
from suite.workload import Check, Prepared, WorkloadInstance


@dataclass
class Outcome:
    """What measuring one system produced, before metrics are derived."""

    system: System
    status: str = "ok"
    reason: str = ""
    check: Check | None = None
    prepared: Prepared | None = None
    samples_s: list[float] = field(default_factory=list)
    calls_per_sample: int = 1

    def fail(self, status: str, reason: str) -> None:
        self.status, self.reason, self.prepared = status, reason, None

    @property
    def active(self) -> bool:
        return self.status == "ok"


def measure_group(instance: WorkloadInstance, inputs: Any, reference: Any,
                  systems: list[System], settings: MeasureSettings) -> list[Outcome]:
    outcomes = [Outcome(s) for s in systems]
    for outcome in outcomes:
        _prepare_and_validate(outcome, instance, inputs, reference)
        if outcome.active:
            _warm_up(outcome, settings)
    _interleave(outcomes, settings)
    return outcomes


def _prepare_and_validate(outcome: Outcome, instance: WorkloadInstance, inputs: Any,
                          reference: Any) -> None:
    system = outcome.system
    # A kernel's supports() check runs inside prepare (the registry wraps it) and its
    # Unsupported becomes a skipped row below, so it is not asked twice here.
    reason = system.device.unavailable_reason() or system.spec.missing_needs()
    if reason:
        outcome.fail("skipped", reason)
        return
    try:
        ctx = KernelContext(device=system.device, options=dict(system.entry.options))
        prepared = system.spec.prepare(instance, inputs, ctx)
        output = prepared.to_host(prepared.run())
        check = instance.check(output, reference, inputs, prepared)
    except Unsupported as exc:
        outcome.fail("skipped", str(exc))
        return
    except Exception as exc:  # one failing system never loses the run
        outcome.fail("failed", describe(exc))
        return
    outcome.check = check
    if not check.valid:
        outcome.fail("failed", f"wrong result: {check.reason}")
        outcome.check = check
        return
    outcome.prepared = prepared


def _warm_up(outcome: Outcome, settings: MeasureSettings) -> None:
    assert outcome.prepared is not None
    device = outcome.system.device
    try:
        if device.deterministic:
            return
        for _ in range(settings.warmup):
            device.time_calls(outcome.prepared, 1)
        one_call_s = device.time_calls(outcome.prepared, 1)
        outcome.calls_per_sample = max(1, math.ceil(settings.sample_time_s / max(one_call_s, 1e-9)))
    except Exception as exc:
        outcome.fail("failed", describe(exc))


def _interleave(outcomes: list[Outcome], settings: MeasureSettings) -> None:
    """Round-robin over systems so drift (heat, other load) hits all of them alike."""
    budget_end = time.perf_counter() + max(settings.min_time_s * 20, 5.0) * len(outcomes)
    while True:
        pending = [o for o in outcomes if o.active and not _enough(o, settings)]
        if not pending:
            break
        for outcome in pending:
            _take_sample(outcome)
        if time.perf_counter() > budget_end:
            break  # a pathological system must not hold the whole run hostage


def _take_sample(outcome: Outcome) -> None:
    assert outcome.prepared is not None
    device = outcome.system.device
    try:
        if device.deterministic:
            outcome.samples_s.append(device.time_calls(outcome.prepared, 1))
            return
        total = device.time_calls(outcome.prepared, outcome.calls_per_sample)
        outcome.samples_s.append(total / outcome.calls_per_sample)
    except Exception as exc:
        outcome.fail("failed", describe(exc))


def _enough(outcome: Outcome, settings: MeasureSettings) -> bool:
    n = len(outcome.samples_s)
    if outcome.system.device.deterministic:
        return n >= 1
    if n >= settings.max_repeats:
        return True
    measured_s = sum(outcome.samples_s) * outcome.calls_per_sample
    return n >= settings.min_repeats and measured_s >= settings.min_time_s


def describe(exc: BaseException) -> str:
    """Exception type, message and the innermost frame: enough to find the bug."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}{where}"
