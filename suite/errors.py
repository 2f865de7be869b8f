"""User-facing errors: one line naming the field, the value and what is allowed.

``UserError`` ends a run with exit code 2 and no traceback (asv's ``UserError``).
``ParamError`` is raised by families while validating one parameter; the config loader
turns it into a ``UserError`` that carries the YAML path and line.
``Unsupported`` is raised by a kernel that cannot run an instance: the row is skipped with
the reason and the run goes on.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input; printed as one line, exit code 2."""


class ParamError(UserError):
    """One invalid parameter: ``field`` got ``value``; ``allowed`` says what would do."""

    def __init__(self, field: str, value: object, allowed: str):
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field}: got {value!r}; allowed: {allowed}")


class Unsupported(Exception):
    """A kernel or device cannot run this instance (the row becomes ``skipped``)."""
