"""Check a prepared system on every batch it will be fed, before any of its time counts.

Each batch's output is compared with that batch's reference (``instance.check``); the
accuracy a row reports is the mean over the batches (over the queries, per_query). A family
whose reference is the dense system's own output (``FamilySpec.reference == "baseline"``)
takes it from the baseline here, so the baseline must be validated first.
Main entry: ``validate_outputs(outcome, shared, family, baseline)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from suite.workload import Check

if TYPE_CHECKING:
    from suite.build_group import SharedBuild
    from suite.family import FamilySpec
    from suite.measure import Outcome


def validate_outputs(outcome: Outcome, shared: SharedBuild, family: FamilySpec,
                     baseline: Outcome | None) -> None:
    from suite.measure import describe

    instance, prepared = outcome.instance, outcome.prepared
    batches = shared.batches(instance)
    feed = outcome.feed
    from_baseline = family.reference == "baseline"
    if from_baseline and not outcome.system.is_baseline and not shared.has_reference(instance, 0):
        why = f"{baseline.status}: {baseline.reason}" if baseline else "not in the plan"
        outcome.fail("failed", f"no reference: this family's reference is the baseline's "
                               f"output, and the baseline {why}")
        return
    checks: list[Check] = []
    for index, on_device in enumerate(feed):
        batch = batches[index]
        try:
            output = prepared.to_host(outcome.run(on_device))
            if from_baseline and outcome.system.is_baseline:
                shared.set_reference(instance, index, output)
            reference = shared.reference(instance, index)
            check = instance.check(output, reference, shared.inputs, prepared, batch=batch)
        except Exception as exc:  # one failing system never loses the run
            outcome.fail("failed", describe(exc))
            return
        if not check.valid:
            where = f" (batch {index} of {len(feed)})" if index else ""
            outcome.fail("failed", f"wrong result: {check.reason}{where}")
            outcome.check = check
            return
        checks.append(check)
    outcome.check = _merge(checks)


def _merge(checks: list[Check]) -> Check:
    """One verdict for all batches: every check passed; accuracy is the batches' mean."""
    if len(checks) == 1:
        return checks[0]
    accuracy: dict[str, Any] = {}
    for name in checks[0].accuracy:
        values = [c.accuracy.get(name) for c in checks]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            accuracy[name] = float(sum(values) / len(values))
        else:
            accuracy[name] = values[0]
    details = dict(checks[0].checks)
    details["batches_checked"] = len(checks)
    return Check(True, accuracy, details, "")
