"""Rate: star ratings and blind A/B votes of headlines, written to the ratings store at once.

Inputs (rater name, mode), title, state (the rater's next item and progress), render (the item,
the guidelines), act (rate / vote / skip / undo). The owner's panels (queue generation, flow back
into the reward model, agreement, exports) live in ui/rater.py and are hidden in rater mode.
Generated text is untrusted: headlines and articles are shown with st.text / dataframes only.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import rater as keys
from ui import rating
from ui.mode import mode_or_stop
from ui.services import ratings_store
from ui.widgets import guarded

STARS, AB = "Stars (1-5)", "Blind A/B"
VERDICTS = [("a", "A is better", "A"), ("b", "B is better", "B"), ("tie", "Tie", "T"), ("both_bad", "Both bad", "X")]

store = ratings_store()
owner = not mode_or_stop()  # a broken rater-mode setting stops here too (fails closed)


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
            with guarded("The guidelines were not saved"):
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
        st.success(f"Your vote: {rating.VERDICT_TEXT[reveal['winner']]}. Here is who wrote what:",
                   icon=":material/visibility:")
        st.dataframe(pd.DataFrame({"side": ["A", "B"], "headline": [reveal["headline_a"], reveal["headline_b"]],
                                   "written by": [reveal["source_a"] or "?", reveal["source_b"] or "?"]}),
                     hide_index=True)

    if mode == STARS:
        items = store.next_for_rater(rater, 1, skipped=rating.skipped("ratings"))
        item = items[0] if items else None
        if item is None:
            st.info("Nothing left to rate in the star queue." + (" Add headlines below or from Compare." if owner else ""))
        else:
            with st.container(border=True, key="rate_item"):
                st.caption("Article")
                st.text(item["article"])
                st.caption("Headline")
                st.text(item["headline"])
            cols = st.columns(7)  # each button names the item it was drawn for (ui/rating.py)
            for stars in range(1, 6):
                cols[stars - 1].button(f"{stars} ★", key=rating.star_key(item["id"], stars), shortcut=str(stars),
                                       on_click=rating.rate, args=(store, item["id"], item["item_key"], rater, stars),
                                       width="stretch", help=f"Rate {stars} (key {stars})")
            cols[5].button("Skip", key=rating.skip_key("ratings", item["id"]), shortcut="S", on_click=rating.skip,
                           args=("ratings", item["id"]), width="stretch", help="Skip this headline (key S)")
    else:
        pair = store.next_pair_for_rater(rater, skipped=rating.skipped("votes"))
        if pair is None:
            st.info("No A/B pairs left." + (" Add some below." if owner else ""))
        else:
            swap = rating.swapped(rater, pair["id"])
            shown = rating.shown_pair(pair, swap)
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
                cols[k].button(label, key=rating.vote_key(pair["id"], winner), shortcut=shortcut, on_click=rating.vote,
                               args=(store, pair, swap, rater, winner), width="stretch", help=f"Key {shortcut}")
            cols[4].button("Skip", key=rating.skip_key("votes", pair["id"]), shortcut="S", on_click=rating.skip,
                           args=("votes", pair["id"]), width="stretch", help="Skip this pair (key S)")
    st.button("Undo last", key=keys.RATE_UNDO, icon=":material/undo:", shortcut="U", on_click=rating.undo,
              args=(store, rater), help="Take back your most recent rating or vote in this browser session (key U)")

if owner:
    from ui.rater import agreement_panel, export_panel, flow_back_panel, queue_panel

    st.divider()
    queue_panel(store)
    flow_back_panel(store)
    agreement_panel(store)
    export_panel(store)
