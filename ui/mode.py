"""Rater mode: is this server only collecting ratings? (Its own module: every page asks, so nothing cycles.)

Rater mode is for a product team collecting ratings: the server shows only the Rate page and its
guidelines; uploading, training, deleting and exporting are unreachable. It is switched on by the
environment (RLHF_STUDIO_RATER_MODE=1|true|yes|on) or a Streamlit secret (`rater_mode = true` in
.streamlit/secrets.toml). app.py declares only the Rate page in rater mode; every other page also
calls `owner_only()` (forbid_in_rater_mode) first, so a page reached some other way still refuses to draw.

The switch fails closed: a value that is neither on nor off (RLHF_STUDIO_RATER_MODE=ture), or a
secrets file that exists but cannot be read, is a RaterModeError, and the server shows that
message and stops instead of serving the owner's app to whoever reaches it.
"""

from __future__ import annotations

import os

import streamlit as st

from rlhf_core.errors import StudioError
from ui.widgets import show_error

ENV_VAR = "RLHF_STUDIO_RATER_MODE"
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"", "0", "false", "no", "off"}


class RaterModeError(StudioError):
    """The rater-mode switch is set to something we do not understand, or its secrets file is unreadable."""


def _switch(value, where: str) -> bool:
    """on / off from a setting; anything else is a RaterModeError (fail closed, never guess 'off')."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise RaterModeError(
        f"{where} is set to {str(value)[:40]!r}, which is neither on ({', '.join(sorted(TRUE_WORDS))}) nor off "
        f"({', '.join(sorted(w for w in FALSE_WORDS if w))} or unset). This server stops rather than guess: "
        "fix the setting and start it again.")


def _secrets_files() -> list[str]:
    from streamlit import config

    return [str(p) for p in (config.get_option("secrets.files") or []) if os.path.exists(p)]


def rater_mode() -> bool:
    """True when this server only collects ratings (env var or `rater_mode` secret).

    Raises RaterModeError for a value that is neither on nor off, or a secrets file that exists
    but cannot be read or parsed (no secrets file at all is fine: owner mode).
    """
    if _switch(os.environ.get(ENV_VAR, ""), f"The environment variable {ENV_VAR}"):
        return True
    try:
        value = st.secrets.get("rater_mode", False)
    except Exception as exc:  # noqa: BLE001 - any failure to read an existing file fails closed
        files = _secrets_files()
        if not files:
            return False  # no secrets file: nothing says rater mode
        raise RaterModeError(f"The secrets file {files[0]} could not be read ({type(exc).__name__}), so this "
                             "server cannot tell whether it is a rater-only server. It stops rather than "
                             "serve the owner's app: fix the file and start it again.") from None
    return _switch(value, "The secret rater_mode")


def mode_or_stop() -> bool:
    """rater_mode(), or, when the switch is broken: the message on the page, then the server stops."""
    try:
        return rater_mode()
    except RaterModeError as exc:
        show_error(exc, "Rater mode is misconfigured")
        stop_server(str(exc))
        st.stop()


def stop_server(reason: str) -> None:
    """Shut this Streamlit server down (SIGTERM to itself, a moment after the page got the message);
    never inside AppTest, which runs in the test process."""
    import logging
    import signal
    import threading

    from streamlit import config

    logging.getLogger("rlhf_studio").error("stopping the server: %s", reason)
    if config.get_option("global.appTest"):
        return
    threading.Timer(1.0, os.kill, args=(os.getpid(), signal.SIGTERM)).start()


def forbid_in_rater_mode() -> None:
    """Stop the page at once in rater mode (every page but Rate calls this first)."""
    if mode_or_stop():
        st.warning("This server only collects ratings. Open the **Rate** page to continue.",
                   icon=":material/lock:")
        st.stop()


def owner_only() -> None:
    """Every page but Rate starts with this: in rater mode it stops the page."""
    forbid_in_rater_mode()
