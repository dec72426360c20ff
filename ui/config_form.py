"""A form built from a config dataclass: one widget per field, typed, bounded and explained by the field itself.

Each field's metadata (rlhf_core.bounds.bounded) gives the widget its help text, its min / max
(number inputs) or its options (a selectbox); the type of the default picks the widget. So a new
algorithm's config needs no page code, and a widget can never offer a value the config refuses.
"""

from __future__ import annotations

import math
from dataclasses import fields, is_dataclass
from typing import Any, Iterable

import streamlit as st

LABELS = {"beta": "beta (KL coefficient)"}


def field_input(cls, name: str, default: Any, key: str, container=st, label: str | None = None) -> Any:
    """The widget of one config field (labelled `label`, or the field's name); returns its value in the field's type."""
    meta = next(f.metadata for f in fields(cls) if f.name == name)
    label, help_text = label or LABELS.get(name, name.replace("_", " ")), meta.get("help") or None
    lo, hi, choices = meta.get("min"), meta.get("max"), meta.get("choices")
    if choices:
        options = list(choices)
        return container.selectbox(label, options, index=options.index(default), key=key, help=help_text)
    if isinstance(default, bool):
        return container.checkbox(label, value=default, key=key, help=help_text)
    if isinstance(default, int):
        return int(container.number_input(label, value=default, step=1, key=key, help=help_text,
                                          min_value=None if lo is None else int(lo), max_value=None if hi is None else int(hi)))
    if isinstance(default, float):
        step, fmt = _step_and_format(name, default, lo, hi)
        return float(container.number_input(label, value=float(default), step=step, format=fmt, key=key, help=help_text,
                                            min_value=None if lo is None else float(lo),
                                            max_value=None if hi is None else float(hi)))
    return container.text_input(label, value=str(default), key=key, help=help_text)


def _step_and_format(name: str, default: float, lo, hi) -> tuple[float, str]:
    """Learning rates and other values spanning many orders of magnitude step by a tenth of their size."""
    if name.endswith("lr") or (lo and hi and lo > 0 and hi / lo >= 1e6):
        size = 10.0 ** math.floor(math.log10(abs(default))) if default else 1e-6  # a float: 10 ** 1 would be an int step
        return size / 10 if name.endswith("lr") else size, "%.1e"
    return (0.01, "%.3f") if abs(default) < 1 else (0.1, "%.2f")


def config_form(cls, defaults, names: Iterable[str], key_prefix: str, container=st) -> dict:
    """Widgets for `names` (fields of `cls`), starting at `defaults` (an instance); {name: value}.

    Widgets are keyed `<key_prefix><field>`; a page that draws one config with several sets of defaults
    (the Policy page: a preset's or the papers') puts that choice in `key_prefix`, so each shows its own
    values. A nested config field (e.g. `generation`) becomes one widget per field of its own, keyed
    `<key_prefix>gen_<field>`, and comes back as a dict of its fields.
    """
    values: dict[str, Any] = {}
    for name in names:
        default = getattr(defaults, name)
        if is_dataclass(default):
            values[name] = {f.name: field_input(type(default), f.name, getattr(default, f.name), f"{key_prefix}gen_{f.name}",
                                                container)
                            for f in fields(default)}
        else:
            values[name] = field_input(cls, name, default, f"{key_prefix}{name}", container)
    return values
