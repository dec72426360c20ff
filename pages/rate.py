"""Rate: star ratings and blind A/B votes of headlines, written to the ratings store at once.

Inputs (rater name, mode), title, state (the rater's next item and progress), render (the item,
the guidelines), act (rate / vote / skip / undo). The owner's panels (queue generation, flow back
into the reward model, agreement, exports) live in ui/rater.py and are hidden in rater mode.
Generated text is untrusted: headlines and articles are shown with st.text / dataframes only.
"""

from __future__ import annotations

import zlib

import pandas as pd
import streamlit as st

from ui import rater as keys
from ui.rater import rater_mode
from ui.services import ratings_store

STARS, AB = "Stars (1-5)", "Blind A/B"
VERDICTS = [("a", "A is better", "A"), ("b", "B is better", "B"), ("tie", "Tie", "T"), ("both_bad", "Both bad", "X")]
VERDICT_TEXT = {"a": "A is better", "b": "B is better", "tie": "a tie", "both_bad": "both bad"}

store = ratings_store()
owner = not rater_mode()


def _flash(message: str) -> None:
    st.session_state[keys.RATE_FLASH] = message


def _skipped(kind: str) -> list[int]:
    return st.session_state.setdefault(keys.RATE_SKIPPED, {"ratings": [], "votes": []})[kind]


def _swap(rater: str, pair_id: int) -> bool:
    """Show the pair's sides swapped for half the (rater, pair) combinations: no position bias."""
    return zlib.crc32(f"{rater}\x1f{pair_id}".encode()) % 2 == 1


def _rate(item: dict, rater: str, stars: int) -> None:
    store.add_rating(item["article"], item["headline"], stars, rater, source=item.get("source", ""),
                     temperature=item.get("temperature"))
    st.session_state[keys.RATE_REVEAL] = None
    _flash(f"Saved {stars} star{'s' if stars > 1 else ''}.")


def _vote(shown: dict, rater: str, winner: str) -> None:
    store.add_vote(shown["article"], shown["headline_a"], shown["headline_b"], winner, rater,
                   source_a=shown["source_a"], source_b=shown["source_b"])
    st.session_state[keys.RATE_REVEAL] = {**shown, "winner": winner}


def _skip(kind: str, queue_id: int) -> None:
    _skipped(kind).append(int(queue_id))
    st.session_state[keys.RATE_REVEAL] = None


def _undo(rater: str) -> None:
    removed = store.undo_last(rater)
    st.session_state[keys.RATE_REVEAL] = None
    if removed is None:
        _flash("Nothing to undo.")
    elif removed["kind"] == "rating":
        _flash(f"Undone: your {removed['score']}-star rating.")
    else:
        _flash(f"Undone: your A/B vote ({VERDICT_TEXT[removed['winner']]}).")


# --- title and inputs ---
st.title("Rate headlines")
st.caption("Judge headlines written for news articles. Every click is saved at once; "
           "a refresh or a crash loses nothing.")
name_col, mode_col = st.columns([2, 3])
with name_col:
    # remembered for the session, and in the URL (?rater=...) so a browser refresh keeps it too
    remembered = st.session_state.get(keys.RATE_RATER_NAME) or st.query_params.get("rater", "")
    rater = st.text_input("Your name (rater)", value=remembered, max_chars=64, key=keys.RATE_RATER,
                          placeholder="e.g. alex").strip()
    st.session_state[keys.RATE_RATER_NAME] = rater
    if rater and st.query_params.get("rater") != rater:
        st.query_params["rater"] = rater
with mode_col:
    mode = st.radio("Mode", [STARS, AB], horizontal=True, key=keys.RATE_MODE,
                    help="Stars: one headline at a time. Blind A/B: two headlines; you learn which "
                         "model wrote which only after your vote (as in Chatbot Arena).")

guidelines = store.get_guidelines()
with st.expander("Guidelines", expanded=not owner, icon=":material/menu_book:"):
    if owner:
        edited = st.text_area("Guidelines raters see (you can edit them)", guidelines, height=220,
                              key=keys.RATE_GUIDELINES_EDIT)
        if st.button("Save guidelines", key=keys.RATE_GUIDELINES_SAVE) and edited.strip() != guidelines.strip():
            store.set_guidelines(edited)
            st.toast("Guidelines saved: raters see them on their next page load.")
    else:
        st.text(guidelines)

flash = st.session_state.pop(keys.RATE_FLASH, None)
if flash:
    st.toast(flash)

# --- state, render, act ---
if not rater:
    st.info("Enter your name above to start rating. It is stored with each rating so agreement "
            "between raters can be measured.", icon=":material/badge:")
else:
    kind = "ratings" if mode == STARS else "votes"
    done, total = store.queue_progress(rater, kind)
    st.progress(done / total if total else 0.0,
                text=f"{done} of {total} {'headlines rated' if kind == 'ratings' else 'pairs judged'}")
    reveal = st.session_state.get(keys.RATE_REVEAL)
    if mode == AB and reveal:
        st.success(f"Your vote: {VERDICT_TEXT[reveal['winner']]}. Here is who wrote what:",
                   icon=":material/visibility:")
        st.dataframe(pd.DataFrame({"side": ["A", "B"], "headline": [reveal["headline_a"], reveal["headline_b"]],
                                   "written by": [reveal["source_a"] or "?", reveal["source_b"] or "?"]}),
                     hide_index=True)

    if mode == STARS:
        items = store.next_for_rater(rater, 1, skipped=_skipped("ratings"))
        item = items[0] if items else None
        if item is None:
            st.info("Nothing left to rate in the star queue." + (" Add headlines below or from Compare." if owner else ""))
        else:
            with st.container(border=True, key="rate_item"):
                st.caption("Article")
                st.text(item["article"])
                st.caption("Headline")
                st.text(item["headline"])
            cols = st.columns(7)
            for stars in range(1, 6):
                cols[stars - 1].button(f"{stars} ★", key=f"{keys.RATE_STARS}{stars}", shortcut=str(stars),
                                       on_click=_rate, args=(item, rater, stars), width="stretch",
                                       help=f"Rate {stars} (key {stars})")
            cols[5].button("Skip", key=keys.RATE_SKIP, shortcut="S", on_click=_skip, args=("ratings", item["id"]),
                           width="stretch", help="Skip this headline (key S)")
    else:
        pair = store.next_pair_for_rater(rater, skipped=_skipped("votes"))
        if pair is None:
            st.info("No A/B pairs left." + (" Add some below." if owner else ""))
        else:
            swapped = _swap(rater, pair["id"])
            shown = {"article": pair["article"],
                     "headline_a": pair["headline_b"] if swapped else pair["headline_a"],
                     "headline_b": pair["headline_a"] if swapped else pair["headline_b"],
                     "source_a": pair["source_b"] if swapped else pair["source_a"],
                     "source_b": pair["source_a"] if swapped else pair["source_b"]}
            with st.container(border=True, key="rate_pair"):
                st.caption("Article")
                st.text(shown["article"])
                left, right = st.columns(2)
                left.caption("Headline A")
                left.text(shown["headline_a"])
                right.caption("Headline B")
                right.text(shown["headline_b"])
            cols = st.columns(7)
            for k, (winner, label, shortcut) in enumerate(VERDICTS):
                cols[k].button(label, key=f"{keys.RATE_VOTE}{winner}", shortcut=shortcut, on_click=_vote,
                               args=(shown, rater, winner), width="stretch", help=f"Key {shortcut}")
            cols[4].button("Skip", key=keys.RATE_SKIP, shortcut="S", on_click=_skip, args=("votes", pair["id"]),
                           width="stretch", help="Skip this pair (key S)")
    st.button("Undo last", key=keys.RATE_UNDO, icon=":material/undo:", shortcut="U", on_click=_undo, args=(rater,),
              help="Remove your most recent rating or vote (key U)")

if owner:
    from ui.rater import agreement_panel, export_panel, flow_back_panel, queue_panel

    st.divider()
    queue_panel(store)
    flow_back_panel(store)
    agreement_panel(store)
    export_panel(store)
