"""Help text and bounds of config fields, declared once in the field's metadata and read by both sides.

A field is declared with `bounded(default, help, lo, hi)` (numbers) or `bounded(default, help,
choices=(...))` (a fixed set of words): its metadata holds {"help", "min", "max"} or {"help",
"choices"}. `check_bounds(config)`, called first in every config's `__post_init__`, refuses a
value outside them with a ConfigError; the config form (ui/config_form.py) gives its widgets the
same min / max / options, so a page, the CLI and the config itself never disagree about what is
allowed. Ranges are generous (a GPU run fits) but finite: a mistyped 10**9 steps is refused.
Cross-field rules (a group needs two completions, adaptive KL needs beta > 0) stay in each
`__post_init__`, in plain English.
"""

from __future__ import annotations

from dataclasses import MISSING, field, fields, is_dataclass
from typing import Any

from rlhf_core.errors import ConfigError


def bounded(default: Any, help_text: str, lo: float | None = None, hi: float | None = None,
            choices: tuple | None = None) -> Any:
    """A dataclass field with its help text and its [lo, hi] range (inclusive) or its choices."""
    metadata: dict[str, Any] = {"help": help_text}
    if lo is not None:
        metadata["min"] = lo
    if hi is not None:
        metadata["max"] = hi
    if choices is not None:
        metadata["choices"] = tuple(choices)
    if is_dataclass(default) or callable(default):  # a nested config: a fresh default per instance
        return field(default_factory=default if callable(default) else type(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def spec(cls, name: str) -> dict:
    """The metadata of field `name` of config class `cls`: {"help", "min", "max", "choices"} as declared."""
    for f in fields(cls):
        if f.name == name:
            return dict(f.metadata)
    raise KeyError(f"{cls.__name__} has no field {name}")


def bounds(cls, name: str) -> tuple[float | None, float | None]:
    """(min, max) of a numeric config field, None where it has no bound."""
    meta = spec(cls, name)
    return meta.get("min"), meta.get("max")


def field_help(cls, name: str) -> str:
    """The help text of field `name` of config class `cls` ('' if it has none)."""
    try:
        return spec(cls, name).get("help", "")
    except KeyError:
        return ""


def default_of(cls, name: str) -> Any:
    """The declared default of a field (a fresh instance for a nested config)."""
    for f in fields(cls):
        if f.name == name:
            return f.default_factory() if f.default is MISSING else f.default
    raise KeyError(name)


def check_bounds(config) -> None:
    """Raise ConfigError for the first field outside its declared range or choices (or not a number)."""
    for f in fields(config):
        lo, hi, choices = f.metadata.get("min"), f.metadata.get("max"), f.metadata.get("choices")
        value = getattr(config, f.name)
        if choices is not None and value not in choices:
            raise ConfigError(f"{f.name} must be one of {', '.join(map(str, choices))}; got {str(value)[:40]!r}.")
        if lo is None and hi is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise ConfigError(f"{f.name} must be a number, not {str(value)[:40]!r}.")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ConfigError(f"{f.name} must be between {_show(lo)} and {_show(hi)}; got {_show(value)}.")


def _show(value) -> str:
    if value is None:
        return "any"
    if isinstance(value, float) and value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
        return f"{value:.0e}"
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"
