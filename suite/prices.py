"""The device price table (US$ per hour) behind the Cost axis; documented in prices.yaml.

Main entry: ``price_per_hour(price_key, overrides) -> float | None``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from suite.errors import UserError


def default_prices() -> dict[str, float]:
    text = (resources.files("suite") / "prices.yaml").read_text()
    return {str(k): float(v) for k, v in yaml.safe_load(text).items()}


def load_price_file(path: str) -> dict[str, float]:
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"--prices: cannot read {path!r}: {exc}") from None
    if not isinstance(raw, dict) or not all(isinstance(v, (int, float)) for v in raw.values()):
        raise UserError(f"--prices: {path!r} must map device names to US$ per hour numbers")
    return {str(k): float(v) for k, v in raw.items()}


def price_per_hour(price_key: str, overrides: dict[str, float] | None = None) -> float | None:
    """First table row (overrides first, then in file order) whose key is in price_key."""
    key = price_key.lower()
    for table in (overrides or {}, default_prices()):
        for name, price in table.items():
            if name.lower() in key:
                return price
    return None
