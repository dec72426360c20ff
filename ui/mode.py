"""Rater mode: is this server only collecting ratings? (Its own module: every page asks, ui.widgets too.)

Rater mode is for a product team collecting ratings: the server shows only the Rate page and its
guidelines; uploading, training, deleting and exporting are unreachable. It is switched on by the
environment (RLHF_STUDIO_RATER_MODE=1|true|yes) or a Streamlit secret (`rater_mode = true` in
.streamlit/secrets.toml). app.py declares only the Rate page in rater mode; every other page also
calls `forbid_in_rater_mode()` first (ui.widgets.owner_only), so a page reached some other way
still refuses to draw.
"""

from __future__ import annotations

import os

import streamlit as st

ENV_VAR = "RLHF_STUDIO_RATER_MODE"
TRUE_WORDS = {"1", "true", "yes", "on"}


def _truthy(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in TRUE_WORDS


def rater_mode() -> bool:
    """True when this server only collects ratings (env var or `rater_mode` secret)."""
    if _truthy(os.environ.get(ENV_VAR, "")):
        return True
    try:
        return _truthy(st.secrets.get("rater_mode", False))
    except Exception:  # no secrets.toml, or an unreadable one: rater mode is off
        return False


def forbid_in_rater_mode() -> None:
    """Stop the page at once in rater mode (every page but Rate calls this first)."""
    if rater_mode():
        st.warning("This server only collects ratings. Open the **Rate** page to continue.",
                   icon=":material/lock:")
        st.stop()
