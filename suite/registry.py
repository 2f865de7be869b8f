"""The plug-in registry: families, kernels and device kinds register here; the runner only looks up.

A family registers once (``register_family``); a kernel is one function plus one line::

    from suite.registry import register_kernel
    from suite.workload import Prepared

    @register_kernel("spmm", "scipy-csr", device="cpu", needs=("scipy",),
                     description="scipy.sparse CSR @ dense")
    def scipy_csr(instance, inputs, ctx):
        import scipy.sparse as sp
        w = sp.csr_matrix(inputs.weight)          # preparation is not timed
        return Prepared(run=lambda: w @ inputs.x, bytes_min=...)

A kernel raises ``suite.errors.Unsupported("why")`` when it cannot run an instance (the row
is skipped with that reason); a cheap ``supports=fn(instance) -> reason | None`` is checked
before every prepare (and at config time), so the kernel need not check it again. Heavy libraries are imported inside the function, so a missing
one skips rows instead of breaking start-up. Plug-in modules are found by ``load_plugins``:
every direct child module or sub-package of ``suite.workloads``, ``kernels`` and
``simulators`` (names starting with ``_`` are skipped), plus any module named by the ``sparsecap.plugins`` entry-point group or listed
(comma-separated) in the ``SPARSECAP_PLUGINS`` environment variable.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from suite.errors import Unsupported, UserError
from suite.family import AccuracyMetric, FamilySpec, Param  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    from suite.devices import Device
    from suite.workload import Prepared, WorkloadInstance


@dataclass(frozen=True)
class KernelContext:
    """What a kernel gets besides the instance and inputs: its device and YAML options."""

    device: Device
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class KernelSpec:
    """One kernel of a family on one device kind (``cpu``, ``cuda``, ``sim``)."""

    family: str
    name: str
    device: str
    prepare: Callable[[WorkloadInstance, Any, KernelContext], Prepared]
    needs: tuple[str, ...] = ()
    description: str = ""
    supports: Callable[[WorkloadInstance], str | None] | None = None

    def missing_needs(self) -> str | None:
        """Why this kernel cannot run here (a library is not installed), or None."""
        missing = [m for m in self.needs if importlib.util.find_spec(m) is None]
        if missing:
            return f"needs {', '.join(missing)} (not installed)"
        return None

    def unsupported_reason(self, instance: WorkloadInstance) -> str | None:
        return self.supports(instance) if self.supports else None


ANY_FAMILY = "*"  # kernels that serve every family, like the harness's null system
_FAMILIES: dict[str, FamilySpec] = {}
_KERNELS: dict[tuple[str, str, str], KernelSpec] = {}
_DEVICE_KINDS: dict[str, Callable[[str], Device]] = {}
_DEVICE_DOCS: dict[str, str] = {}
_BROKEN: dict[str, str] = {}
_loaded = False


def register_family(spec: FamilySpec) -> FamilySpec:
    """Add a family; registering the same name twice is a programming error."""
    if spec.name in _FAMILIES and _FAMILIES[spec.name] is not spec:
        raise ValueError(f"family {spec.name!r} registered twice")
    _FAMILIES[spec.name] = spec
    return spec


def register_kernel(family: str, name: str, *, device: str, needs: tuple[str, ...] = (),
                    description: str = "",
                    supports: Callable[[Any], str | None] | None = None):
    """Decorator: register ``fn(instance, inputs, ctx) -> Prepared`` as a kernel."""

    def decorate(fn):
        key = (family, name, device)
        if key in _KERNELS:
            raise ValueError(f"kernel {family}/{name} on {device} registered twice")
        text = description or next(iter((fn.__doc__ or "").strip().splitlines()), "")
        prepare = _checked(fn, supports) if supports else fn
        _KERNELS[key] = KernelSpec(family, name, device, prepare, tuple(needs), text, supports)
        return fn

    return decorate


def _checked(fn, supports):
    """``fn`` behind its ``supports`` check, so a kernel never re-checks inside itself."""

    @functools.wraps(fn)
    def prepare(instance, inputs, ctx):
        reason = supports(instance)
        if reason:
            raise Unsupported(reason)
        return fn(instance, inputs, ctx)

    return prepare


def register_device_kind(kind: str, factory: Callable[[str], Device], doc: str = "") -> None:
    """Add a device kind; ``factory(argument)`` makes the device for ``kind`` or ``kind:argument``."""
    _DEVICE_KINDS[kind] = factory
    _DEVICE_DOCS[kind] = doc


def families() -> dict[str, FamilySpec]:
    load_plugins()
    return dict(_FAMILIES)


def kernels(family: str | None = None) -> list[KernelSpec]:
    load_plugins()
    return [k for k in _KERNELS.values() if family is None or k.family == family]


def device_kinds() -> dict[str, str]:
    load_plugins()
    return dict(_DEVICE_DOCS)


def get_family(name: str) -> FamilySpec:
    load_plugins()
    if name not in _FAMILIES:
        raise UserError(f"unknown family {name!r}; allowed: {', '.join(sorted(_FAMILIES))}"
                        + broken_note())
    return _FAMILIES[name]


def find_kernel(family: str, name: str, device_kind: str) -> KernelSpec | None:
    """The kernel, or a family-agnostic one (registered for family ``*``) bound to ``family``."""
    load_plugins()
    spec = _KERNELS.get((family, name, device_kind))
    if spec is None and (ANY_FAMILY, name, device_kind) in _KERNELS:
        spec = replace(_KERNELS[(ANY_FAMILY, name, device_kind)], family=family)
    return spec


def kernel_names(family: str, device_kind: str) -> list[str]:
    load_plugins()
    return sorted(k.name for k in _KERNELS.values()
                  if k.family in (family, ANY_FAMILY) and k.device == device_kind)


def make_device(name: str) -> Device:
    """``cpu``, ``cuda`` or ``sim:<hw-config>`` -> a Device; unknown kinds are a UserError."""
    load_plugins()
    kind, _, arg = name.partition(":")
    if kind not in _DEVICE_KINDS:
        raise UserError(f"unknown device {name!r}; allowed: "
                        + ", ".join(f"{k}{'' if k != 'sim' else ':<hw-config>'}"
                                    for k in sorted(_DEVICE_KINDS)))
    return _DEVICE_KINDS[kind](arg)


def load_plugins() -> None:
    """Import every plug-in module once so their registrations run."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    importlib.import_module("suite.devices")
    importlib.import_module("suite.null_system")
    for package in ("suite.workloads", "kernels", "simulators"):
        _import_tree(package)
    for ep in entry_points(group="sparsecap.plugins"):
        ep.load()
    # Plug-ins that are not packaged (a lab's own kernels, test families) by module name.
    for name in filter(None, os.environ.get("SPARSECAP_PLUGINS", "").split(",")):
        _import_plugin(name.strip())


def _import_tree(package_name: str) -> None:
    package = importlib.import_module(package_name)
    if not hasattr(package, "__path__"):
        return
    # Direct children only: a sub-package's __init__ decides which of its modules register,
    # so modules holding compiled kernels are not imported (and compiled) at start-up.
    for info in pkgutil.iter_modules(package.__path__, prefix=package_name + "."):
        if info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        _import_plugin(info.name)


def _import_plugin(name: str) -> None:
    """A plug-in that fails to import costs its own rows, never the whole harness."""
    try:
        importlib.import_module(name)
    except Exception as exc:
        _BROKEN[name] = f"{type(exc).__name__}: {exc}"


def broken_plugins() -> dict[str, str]:
    """Plug-in modules that failed to import, with the error (shown by --list and errors)."""
    load_plugins()
    return dict(_BROKEN)


def broken_note() -> str:
    if not _BROKEN:
        return ""
    return " (plug-ins that failed to import: " + "; ".join(
        f"{k}: {v}" for k, v in sorted(_BROKEN.items())) + ")"
