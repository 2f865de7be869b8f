"""How many cores a CPU kernel keeps busy, measured from its threads' CPU clocks.

Kernels do not declare their threading (scipy's CSR product runs on one thread, BLAS and
numba kernels on all cores), so the harness measures it, untimed, after a group's timing:
a few calls, and the CPU time each thread of the process gained meanwhile (Linux's
per-thread CPU clocks, read for every task in ``/proc/self/task``). The answer is
``sum / max`` of those gains: 1.0 for one busy thread, 2.0 for two equally busy ones, and
the same on a loaded machine, where a share of wall time would read low. Elsewhere it
falls back to process CPU seconds over wall seconds. Main entry:
``threads_used(run, feed) -> float | None``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

BUDGET_S = 0.03
MAX_CALLS = 200
TASKS = "/proc/self/task"


def threads_used(run: Callable[[Any], Any], feed: Sequence[Any], budget_s: float = BUDGET_S,
                 max_calls: int = MAX_CALLS) -> float | None:
    """Effective busy threads over calls filling ``budget_s`` (at least one call)."""
    if not feed:
        return None
    before, cpu0 = thread_clocks(), time.process_time()
    calls, wall0 = 0, time.perf_counter()
    while calls < 1 or (time.perf_counter() - wall0 < budget_s and calls < max_calls):
        run(feed[calls % len(feed)])
        calls += 1
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    after = thread_clocks()
    gains = [after[t] - before[t] for t in after if t in before and after[t] > before[t]]
    if gains and max(gains) > 0:
        return round(sum(gains) / max(gains), 2)
    return round(cpu / wall, 2) if wall > 0 else None


def thread_clocks() -> dict[int, float]:
    """Thread id -> CPU seconds of every thread of this process ({} where unsupported)."""
    try:
        tids = [int(name) for name in os.listdir(TASKS)]
    except (OSError, ValueError):
        return {}
    found = {}
    for tid in tids:
        try:  # the kernel's per-thread CPU clock id, as pthread_getcpuclockid makes it
            found[tid] = time.clock_gettime(((~tid) << 3) | 6)
        except (OSError, OverflowError):
            continue  # the thread ended meanwhile
    return found
