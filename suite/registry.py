"""The plug-in registry: families, kernels, device kinds and subcommands register here.

The runner and the CLI only look up; neither names a family, kernel, device or package.
A family registers once (``register_family``); a kernel is one function plus one line::

    from suite.registry import register_kernel
    from suite.workload import Prepared

    @register_kernel("spmm", "scipy-csr", device="cpu", needs=("scipy",),
                     description="scipy.sparse CSR @ dense")
    def scipy_csr(instance, inputs, ctx):
        import scipy.sparse as sp
        w = sp.csr_matrix(inputs.weight)          # preparation is not timed
        return Prepared(run=lambda x: w @ x, bytes_min=...)  # timed on each fed batch

``run(batch)`` gets what to compute from the harness; ``ctx`` (``suite.context``) carries
the device, the YAML options and ``ctx.shared(key, build)`` for untimed builds shared by a
build group (an index, a pruned model).

A kernel raises ``suite.errors.Unsupported("why")`` when it cannot run an instance (the row
is skipped with that reason); a cheap ``supports=fn(instance) -> reason | None`` is checked
before every prepare (and at config time), so the kernel need not check it again. Heavy
libraries are imported inside the function, so a missing one skips rows instead of breaking
start-up. A device kind says how to build it and, without building one, whether it can run
here; a subcommand (``run-suite NAME ...``) gives its arguments and its entry::

    register_device_kind("tpu", TpuDevice, "a TPU through JAX",
                         unavailable=lambda: None if has_tpu() else "no TPU visible")
    register_command("export", add_arguments=add_export_arguments, run=run_export,
                     help="export a run directory as parquet")

Plug-in packages are found by ``load_plugins``: every package named in the
``sparsecap.plugins`` entry-point group (``pyproject.toml``), with each of its direct child
modules or sub-packages (names starting with ``_`` are skipped), plus any module listed
(comma-separated) in the ``SPARSECAP_PLUGINS`` environment variable. A plug-in that fails
to import is kept in ``broken_plugins()`` with its one-line error; the rest still load.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from suite.context import KernelContext  # noqa: F401  (re-exported: kernels' ctx)
from suite.errors import Unsupported, UserError
from suite.family import AccuracyMetric, FamilySpec, Param  # noqa: F401  (re-exported)
from suite.plugins import (  # noqa: F401  (re-exported)
    PLUGIN_ENV,
    PLUGIN_GROUP,
    broken_note,
    broken_plugins,
    load_plugins,
    one_line,
)

if TYPE_CHECKING:
    import argparse

    from suite.devices import Device
    from suite.workload import Prepared, WorkloadInstance



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
    module: str = ""

    def missing_needs(self) -> str | None:
        """Why this kernel cannot run here (a library is not installed), or None."""
        missing = [m for m in self.needs if importlib.util.find_spec(m) is None]
        if missing:
            return f"needs {', '.join(missing)} (not installed)"
        return None

    def unsupported_reason(self, instance: WorkloadInstance) -> str | None:
        return self.supports(instance) if self.supports else None


@dataclass(frozen=True)
class DeviceKind:
    """A device kind: ``factory(argument)`` builds it; ``unavailable()`` says why not here.

    ``unavailable`` is None for a kind that can always run (the CPU, a simulator);
    ``usage`` is how a suite names it (``sim:<hw-config>``), shown in errors.
    """

    kind: str
    factory: Callable[[str], Device]
    doc: str = ""
    unavailable: Callable[[], str | None] | None = None
    usage: str = ""

    def unavailable_reason(self) -> str | None:
        if self.unavailable is None:
            return None
        try:
            return self.unavailable()
        except Exception as exc:  # a broken driver must not break --list
            return f"availability check failed: {one_line(exc)}"


@dataclass(frozen=True)
class CommandSpec:
    """A subcommand ``run-suite NAME``: ``add_arguments(parser)``, then ``run(args) -> exit code``."""

    name: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    help: str
    description: str = ""


ANY_FAMILY = "*"  # kernels that serve every family, like the harness's null system
COMMAND_NAME = re.compile(r"[a-z][a-z0-9-]*")
_FAMILIES: dict[str, FamilySpec] = {}
_KERNELS: dict[tuple[str, str, str], KernelSpec] = {}
_DEVICE_KINDS: dict[str, DeviceKind] = {}
_COMMANDS: dict[str, CommandSpec] = {}


def register_family(spec: FamilySpec) -> FamilySpec:
    """Add a family; registering the same name twice is a programming error."""
    if spec.name in _FAMILIES and _FAMILIES[spec.name] is not spec:
        raise ValueError(_twice(f"family {spec.name!r}", _FAMILIES[spec.name].build,
                                spec.build))
    _FAMILIES[spec.name] = spec
    return spec


def register_kernel(family: str, name: str, *, device: str, needs: tuple[str, ...] = (),
                    description: str = "",
                    supports: Callable[[Any], str | None] | None = None):
    """Decorator: register ``fn(instance, inputs, ctx) -> Prepared`` as a kernel."""

    def decorate(fn):
        key = (family, name, device)
        if key in _KERNELS:
            raise ValueError(_twice(f"kernel {family}/{name} on {device}",
                                    _KERNELS[key].module, fn))
        text = description or next(iter((fn.__doc__ or "").strip().splitlines()), "")
        prepare = _checked(fn, supports) if supports else fn
        _KERNELS[key] = KernelSpec(family, name, device, prepare, tuple(needs), text, supports,
                                   fn.__module__)
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


def register_device_kind(kind: str, factory: Callable[[str], Device], doc: str = "",
                         unavailable: Callable[[], str | None] | None = None,
                         usage: str = "") -> DeviceKind:
    """Add a device kind; ``factory(argument)`` makes the device for ``kind`` or ``kind:argument``.

    ``unavailable() -> reason | None`` answers without building a device; None (the
    default) means the kind always runs here.
    """
    if kind in _DEVICE_KINDS:
        raise ValueError(_twice(f"device kind {kind!r}", _DEVICE_KINDS[kind].factory, factory))
    spec = DeviceKind(kind, factory, doc, unavailable, usage or kind)
    _DEVICE_KINDS[kind] = spec
    return spec


def register_command(name: str, add_arguments: Callable[[argparse.ArgumentParser], None],
                     run: Callable[[argparse.Namespace], int], help: str, *,
                     description: str = "") -> CommandSpec:
    """Add ``run-suite NAME``: the CLI builds its parser, calls ``add_arguments``, then ``run``."""
    if not COMMAND_NAME.fullmatch(name):
        raise ValueError(f"command name {name!r}; allowed: lower-case letters, digits and '-'")
    if name in _COMMANDS:
        raise ValueError(_twice(f"command {name!r}", _COMMANDS[name].run, run))
    spec = CommandSpec(name, add_arguments, run, help, description)
    _COMMANDS[name] = spec
    return spec


def _twice(what: str, first: Any, second: Any) -> str:
    """``what`` registered twice, naming the module of each registration."""
    return (f"{what} registered twice: first by {_module_of(first)}, "
            f"again by {_module_of(second)}")


def _module_of(obj: Any) -> str:
    return obj if isinstance(obj, str) else getattr(obj, "__module__", None) or "?"


def families() -> dict[str, FamilySpec]:
    load_plugins()
    return dict(_FAMILIES)


def kernels(family: str | None = None) -> list[KernelSpec]:
    load_plugins()
    return [k for k in _KERNELS.values() if family is None or k.family == family]


def device_kinds() -> dict[str, DeviceKind]:
    load_plugins()
    return dict(_DEVICE_KINDS)


def device_unavailable(kind: str) -> str | None:
    """Why devices of ``kind`` cannot run here, or None; builds no device."""
    load_plugins()
    if kind not in _DEVICE_KINDS:
        return f"device kind {kind!r} is not registered (no plug-in provides it)"
    return _DEVICE_KINDS[kind].unavailable_reason()


def commands() -> dict[str, CommandSpec]:
    load_plugins()
    return dict(_COMMANDS)


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
                        + ", ".join(_DEVICE_KINDS[k].usage for k in sorted(_DEVICE_KINDS))
                        + broken_note())
    return _DEVICE_KINDS[kind].factory(arg)
