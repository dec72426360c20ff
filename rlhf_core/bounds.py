"""Bounds of numeric config fields, declared once next to the fields and read by both sides.

A config class lists its fields' ranges in a `RANGES` class attribute ({"steps": (1, 100_000),
...}, inherited and overridable per class), or a field carries them in its metadata ("min" /
"max", see `bounded`). `check_bounds(config)`, called from every config's `__post_init__`,
rejects a value outside its range with a ConfigError; the pages read the same numbers with
`bounds(cls, name)` for their widgets' min_value / max_value, so a page and the CLI can never
disagree about what is allowed. Ranges are generous (a big GPU run fits) but finite: a mistyped
10**9 steps or batch rows is refused instead of filling the memory or the disk.
"""

from __future__ import annotations

from dataclasses import field, fields, is_dataclass
from typing import Any

from rlhf_core.errors import ConfigError


def bounded(default: Any, help_text: str, lo: float | None = None, hi: float | None = None) -> Any:
    """A dataclass field with its help text and its [lo, hi] range (inclusive; None = open)."""
    metadata: dict[str, Any] = {"help": help_text}
    if lo is not None:
        metadata["min"] = lo
    if hi is not None:
        metadata["max"] = hi
    return field(default=default, metadata=metadata)


def bounds(cls, name: str) -> tuple[float | None, float | None]:
    """(min, max) of a config field, None where it has no bound."""
    for f in fields(cls):
        if f.name == name:
            return _range(cls, f)
    raise KeyError(name)


def _range(cls, f) -> tuple[float | None, float | None]:
    ranges = getattr(cls, "RANGES", {}) or {}
    if f.name in ranges:
        return tuple(ranges[f.name])
    return f.metadata.get("min"), f.metadata.get("max")


def check_bounds(config) -> None:
    """Raise ConfigError for the first numeric field outside its declared range (or not a number)."""
    for f in fields(config):
        lo, hi = _range(type(config), f)
        if lo is None and hi is None:
            continue
        value = getattr(config, f.name)
        if is_dataclass(value):
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise ConfigError(f"{f.name} must be a number, not {str(value)[:40]!r}.")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ConfigError(f"{f.name} must be between {_show(lo)} and {_show(hi)}; got {_show(value)}.")


def _show(value) -> str:
    if value is None:
        return "any"
    if isinstance(value, float) and (abs(value) < 1e-3 or abs(value) >= 1e6) and value != 0:
        return f"{value:.0e}"
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"
