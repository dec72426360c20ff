"""The Rate page's actions: what a star, vote, skip or undo click does, and the buttons' keys.

Every button names the queue row it was drawn for, in its key and in its callback's arguments, so
a click that reaches the server after the page moved on (a double click, a key press delivered
late) still refers to the item the rater saw: Streamlit runs the callback of the widget that was
clicked, and the store rates that row by id (`RatingsStore.rate_queued` / `vote_queued`). With one
fixed key for "3 stars", a late click would have run the callback the next item registered.

Undo is bound to this browser session (a random token kept in session state, never sent to the
browser): it takes back this session's writes only, however the rater is named.
"""

from __future__ import annotations

import secrets
import zlib

import streamlit as st

from rlhf_core.errors import StudioError
from ui import rater as keys

VERDICT_TEXT = {"a": "A is better", "b": "B is better", "tie": "a tie", "both_bad": "both bad"}


def star_key(item_id: int, stars: int) -> str:
    return f"{keys.RATE_STARS}{int(item_id)}_{int(stars)}"


def vote_key(pair_id: int, winner: str) -> str:
    return f"{keys.RATE_VOTE}{int(pair_id)}_{winner}"


def skip_key(kind: str, queue_id: int) -> str:
    return f"{keys.RATE_SKIP}_{kind}_{int(queue_id)}"


def session_token() -> str:
    """This browser session's undo token (created on first use)."""
    return st.session_state.setdefault(keys.RATE_SESSION, secrets.token_hex(16))


def flash(message: str) -> None:
    st.session_state[keys.RATE_FLASH] = message


def skipped(kind: str) -> list[int]:
    return st.session_state.setdefault(keys.RATE_SKIPPED, {"ratings": [], "votes": []})[kind]


def swapped(rater: str, pair_id: int) -> bool:
    """Show the pair's sides swapped for half the (rater, pair) combinations: no position bias."""
    return zlib.crc32(f"{rater}\x1f{pair_id}".encode()) % 2 == 1


def shown_pair(pair: dict, swap: bool) -> dict:
    """The pair as the rater sees it: A on the left (the stored B when swapped)."""
    a, b = ("b", "a") if swap else ("a", "b")
    return {"article": pair["article"], "headline_a": pair[f"headline_{a}"], "headline_b": pair[f"headline_{b}"],
            "source_a": pair[f"source_{a}"], "source_b": pair[f"source_{b}"]}


def rate(store, item_id: int, item_key: str, rater: str, stars: int) -> None:
    """on_click of a star button: rate exactly the queue row it was drawn for."""
    st.session_state[keys.RATE_REVEAL] = None
    try:
        store.rate_queued(item_id, item_key, stars, rater, session=session_token())
    except StudioError as exc:
        flash(str(exc))
        return
    flash(f"Saved {stars} star{'s' if stars > 1 else ''}.")


def vote(store, pair: dict, swap: bool, rater: str, winner: str) -> None:
    """on_click of a verdict button: the vote refers to the pair (and sides) it was drawn for."""
    try:
        store.vote_queued(pair["id"], pair["item_key"], winner, rater, swapped=swap, session=session_token())
    except StudioError as exc:
        st.session_state[keys.RATE_REVEAL] = None
        flash(str(exc))
        return
    st.session_state[keys.RATE_REVEAL] = {**shown_pair(pair, swap), "winner": winner}


def skip(kind: str, queue_id: int) -> None:
    if int(queue_id) not in skipped(kind):
        skipped(kind).append(int(queue_id))
    st.session_state[keys.RATE_REVEAL] = None


def undo(store, rater: str) -> None:
    """on_click of Undo: step back through this session's own ratings and votes only."""
    removed = store.undo_last(rater, session_token())
    st.session_state[keys.RATE_REVEAL] = None
    if removed is None:
        flash("Nothing to undo: you have not rated anything in this browser session.")
    elif removed["kind"] == "rating":
        flash(f"Undone: your {removed['score']}-star rating.")
    else:
        flash(f"Undone: your A/B vote ({VERDICT_TEXT[removed['winner']]}).")
