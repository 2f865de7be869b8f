"""One build group's shared data: its inputs, the batches fed to kernels and their references.

Instances that differ only in query-time parameters (``Param(query=True)``) form one build
group: their inputs are built once, their batches and references made once per
``reference_key``, and the artifacts kernels build through ``ctx.shared`` live as long as
the group. Main entry: ``SharedBuild(instances, settings)``; ``build_key(instance)``.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from suite import registry
from suite.config import MeasureSettings
from suite.workload import Work, WorkloadInstance, stable_hash


def build_key(instance: WorkloadInstance) -> str:
    """The family, seed and every parameter that is not a query-time knob."""
    query = registry.get_family(instance.family).query_params
    build = {k: v for k, v in instance.params.items() if k not in query}
    return f"{instance.family}/{stable_hash(build, 10)}/seed={instance.seed}"


class SharedBuild:
    """Inputs built once; per instance its batches, references (lazily) and mean work."""

    def __init__(self, instances: list[WorkloadInstance], settings: MeasureSettings):
        self.instances = instances
        self.settings = settings
        self.key = build_key(instances[0])
        self.inputs = instances[0].build_inputs()
        self._batches: dict[str, list[Any]] = {}
        self._references: dict[tuple[str, int], Any] = {}
        self._work: dict[str, Work] = {}

    @property
    def scenario(self) -> str:
        return self.settings.scenario

    def batches(self, instance: WorkloadInstance) -> list[Any]:
        key = self._batch_key(instance)
        if key not in self._batches:
            count = (self.settings.queries if self.scenario == "per_query"
                     else self.settings.batches)
            made = list(instance.batches(self.inputs, count, self.scenario))
            if not made:
                raise ValueError(f"{instance.family}: batches() gave no batch")
            self._batches[key] = made
        return self._batches[key]

    def reference(self, instance: WorkloadInstance, index: int) -> Any:
        key = (self._reference_key(instance), index)
        if key not in self._references:
            batch = self.batches(instance)[index]
            self._references[key] = instance.reference(self.inputs, batch)
        return self._references[key]

    def set_reference(self, instance: WorkloadInstance, index: int, value: Any) -> None:
        """For families whose reference is the dense system's own output on the device."""
        self._references[(self._reference_key(instance), index)] = value

    def has_reference(self, instance: WorkloadInstance, index: int) -> bool:
        return (self._reference_key(instance), index) in self._references

    def reference_lookup(self, instance: WorkloadInstance):
        """``batch -> reference`` by identity, for the null system (no copy, no search)."""
        positions = {id(b): i for i, b in enumerate(self.batches(instance))}
        return lambda batch: self.reference(instance, positions[id(batch)])

    def work(self, instance: WorkloadInstance) -> Work:
        """The work of one call, averaged over the batches (queries differ in size)."""
        if instance.instance_id not in self._work:
            works = [instance.work(self.inputs, b) for b in self.batches(instance)]
            self._work[instance.instance_id] = _mean_work(works)
        return self._work[instance.instance_id]

    def _batch_key(self, instance: WorkloadInstance) -> str:
        # Batches come from the build (seeded), never from a query knob: the group shares them.
        return self.key

    def _reference_key(self, instance: WorkloadInstance) -> str:
        extra = instance.reference_key
        return f"{self.key}|{extra}" if extra is not None else self.key


def _mean_work(works: list[Work]) -> Work:
    if len(works) == 1:
        return works[0]
    numeric = {f.name: sum(getattr(w, f.name) for w in works) / len(works)
               for f in fields(Work) if f.name != "unit_name"}
    return Work(**numeric, unit_name=works[0].unit_name)
