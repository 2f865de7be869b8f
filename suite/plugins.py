"""Find and import the plug-ins whose registrations fill the registry; keep those that fail.

Plug-in packages are every package named in the ``sparsecap.plugins`` entry-point group
(``pyproject.toml``), with each of its direct child modules or sub-packages (names
starting with ``_`` are skipped), plus any module listed (comma-separated) in the
``SPARSECAP_PLUGINS`` environment variable. A plug-in that fails to import is kept in
``broken_plugins()`` with its one-line error; the rest still load.
Main entry: ``load_plugins()`` (the registry calls it before every lookup).
"""

from __future__ import annotations

import functools
import importlib
import os
import pkgutil
from collections.abc import Callable
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

PLUGIN_GROUP = "sparsecap.plugins"
PLUGIN_ENV = "SPARSECAP_PLUGINS"
BUILTIN_MODULES = ("suite.devices", "suite.null_system")  # the harness's own registrations
_BROKEN: dict[str, str] = {}
_loaded = False


def load_plugins() -> None:
    """Import every plug-in once so their registrations run; failures go to ``broken_plugins``."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in BUILTIN_MODULES:
        importlib.import_module(name)
    for ep in _plugin_entry_points():
        module = _guarded(ep.value, ep.load)
        if isinstance(module, ModuleType):
            _import_children(module)
    # Plug-ins that are not packaged (a lab's own kernels, test families) by module name.
    for name in filter(None, (n.strip() for n in os.environ.get(PLUGIN_ENV, "").split(","))):
        _guarded(name, functools.partial(importlib.import_module, name))


def _plugin_entry_points() -> list:
    try:
        found = list(entry_points(group=PLUGIN_GROUP))
    except Exception as exc:  # unreadable package metadata
        found, reason = [], one_line(exc)
    else:
        reason = "" if found else "none declared; install the project (pip install -e .)"
    if reason:
        _BROKEN[f"entry points {PLUGIN_GROUP}"] = reason
    return found


def _import_children(package: ModuleType) -> None:
    """Direct children only: a sub-package's ``__init__`` decides which of its modules load,
    so modules holding compiled kernels are not imported (and compiled) at start-up."""
    if not hasattr(package, "__path__"):
        return
    for info in pkgutil.iter_modules(package.__path__, prefix=package.__name__ + "."):
        if not info.name.rsplit(".", 1)[-1].startswith("_"):
            _guarded(info.name, functools.partial(importlib.import_module, info.name))


def _guarded(name: str, load: Callable[[], Any]) -> Any:
    """A plug-in that fails to import costs its own rows, never the whole harness."""
    try:
        return load()
    except Exception as exc:
        _BROKEN[name] = one_line(exc)
        return None


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message``: how a broken plug-in or check is reported."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def broken_plugins() -> dict[str, str]:
    """Plug-in modules that failed to import, with the error (shown on stderr by the CLI)."""
    load_plugins()
    return dict(_BROKEN)


def broken_note() -> str:
    if not _BROKEN:
        return ""
    return " (plug-ins that failed to import: " + "; ".join(
        f"{k}: {v}" for k, v in sorted(_BROKEN.items())) + ")"
