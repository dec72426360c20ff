"""RLHF Studio: `streamlit run app.py`.

Declares the pages with `st.navigation` and draws the shared sidebar (pipeline state) once.
In rater mode (RLHF_STUDIO_RATER_MODE=1, for a class collecting ratings) only the Rate page exists
and the owner's controls are hidden. Nothing heavy is imported here: each page loads what it needs.
"""

from __future__ import annotations

import streamlit as st

# (file, title, icon): the order is the RLHF loop, Data -> Reward -> Policy -> Compare/Rate -> Evaluate.
PAGES = [
    ("pages/home.py", "Home", ":material/home:"),
    ("pages/lesson.py", "Class lesson", ":material/school:"),
    ("pages/data.py", "Data", ":material/table_view:"),
    ("pages/reward.py", "Reward model", ":material/star_rate:"),
    ("pages/policy.py", "Policy (RLHF)", ":material/model_training:"),
    ("pages/compare.py", "Compare", ":material/compare:"),
    ("pages/rate.py", "Rate", ":material/thumbs_up_down:"),
    ("pages/evaluate.py", "Evaluate", ":material/analytics:"),
]


def main() -> None:
    from ui.mode import mode_or_stop
    from ui.services import startup
    from ui.widgets import guarded

    st.set_page_config(page_title="RLHF Studio", page_icon=":material/newspaper:", layout="wide")
    startup()  # once per server process: sweep what killed writes left behind
    if mode_or_stop():  # a rater-mode setting we do not understand stops the server (fails closed)
        page = st.navigation([st.Page("pages/rate.py", title="Rate", icon=":material/thumbs_up_down:", default=True)])
    else:
        pages = [st.Page(path, title=title, icon=icon, default=(path == "pages/home.py")) for path, title, icon in PAGES]
        page = st.navigation(pages)
        from ui.services import prepare_in_background
        from ui.sidebar import render_sidebar

        prepare_in_background()  # SmolLM2's one-time conversion starts with the app, never in the way
        render_sidebar()
        from ui.lesson import presenter_font

        presenter_font()  # the sidebar's large-font toggle, for every page
    with guarded("This page stopped"):  # any error left uncaught: one plain line, never a traceback
        page.run()


if __name__ == "__main__":
    main()
