"""``--threshold`` values for ``run-suite compare``: one default, per metric, per family.

Each value is ``[KEY=]PERCENT`` (``10%`` or ``0.1``). KEY is ``speedup``, ``accuracy`` (every
accuracy metric), an accuracy metric's name (``rel_error``, ``recall@10``), a family
(``spmm``: all its metrics) or ``FAMILY.METRIC`` / ``FAMILY.speedup`` / ``FAMILY.accuracy``.
The most specific key wins: ``family.metric``, ``family.kind``, ``family``, ``metric``,
``kind``, then the default (10 %). Main entries: ``Thresholds.parse(values, families,
metrics)`` (a ``UserError`` names a bad value) and ``Thresholds.of(family, metric, kind)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from suite.errors import UserError

DEFAULT = 0.10
KINDS = ("speedup", "accuracy")


@dataclass(frozen=True)
class Thresholds:
    """Fractions (0.1 = 10 %) by key; ``default`` where no key matches."""

    default: float = DEFAULT
    by_key: dict[str, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, values: list[str] | None, families: set[str],
              metrics: set[str]) -> Thresholds:
        default, by_key = DEFAULT, {}
        allowed = set(KINDS) | families | metrics | {
            f"{f}.{m}" for f in families for m in (*KINDS, *metrics)}
        for value in values or []:
            key, sep, number = value.rpartition("=")
            fraction = _fraction(value, number)
            if not sep:
                default = fraction
            elif key not in allowed:
                raise UserError(f"--threshold: got key {key!r} in {value!r}; allowed: "
                                + ", ".join(sorted(allowed)))
            else:
                by_key[key] = fraction
        return cls(default, by_key)

    def of(self, family: str, metric: str, kind: str) -> float:
        for key in (f"{family}.{metric}", f"{family}.{kind}", family, metric, kind):
            if key in self.by_key:
                return self.by_key[key]
        return self.default

    def describe(self) -> str:
        extra = ", ".join(f"{k} {v:.0%}" for k, v in sorted(self.by_key.items()))
        return f"{self.default:.0%}" + (f" ({extra})" if extra else "")


def _fraction(value: str, number: str) -> float:
    text = number.strip()
    try:
        fraction = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
    except ValueError:
        raise UserError(f"--threshold: got {value!r}; allowed: [KEY=]PERCENT such as 10% "
                        "or spmm=15% or accuracy=0.05") from None
    if not 0.0 < fraction < 10.0:
        raise UserError(f"--threshold: got {value!r}; allowed: a share above 0 % and "
                        "below 1000 %")
    return fraction
