"""Compare: headlines from up to three policies at several temperatures, side by side.

Inputs (article, policies, temperatures, N, seed, reward model, persona), title, state, render
(grid, diversity, chart), act (generate, send to the rating queue). Generated text is untrusted:
it is shown in dataframes only, never as markdown or HTML.
"""

from __future__ import annotations

import zlib

import pandas as pd
import streamlit as st

from rlhf_core import compare
from rlhf_core.data.personas import PERSONAS
from rlhf_core.store import MAX_TEXT_CHARS
from ui import rater as keys
from ui.charts import temperature_figure
from ui.mode import forbid_in_rater_mode
from ui.pickers import reward_options
from ui.services import policy_or_best_of_n
from ui.widgets import guarded, show_error

forbid_in_rater_mode()

MAX_POLICIES = 3
TEMPERATURE_OPTIONS = [0.1, 0.3, 0.5, 0.7, 1.0, 1.3, 1.6, 2.0]
NONE = "(none)"
PASTE, FROM_DATA = "Paste an article", "From a dataset"
GRID_FORMAT = {"temperature": st.column_config.NumberColumn("T", format="%.1f"),
               "reward": st.column_config.ProgressColumn("reward", min_value=0.0, max_value=1.0, format="%.2f"),
               "gold": st.column_config.ProgressColumn("gold", min_value=0.0, max_value=1.0, format="%.2f"),
               **{k: st.column_config.NumberColumn(k, format="%.2f") for k in ("rouge1", "rouge2", "rougeL")}}


@st.cache_data(show_spinner=False, ttl=30)
def _articles(source: str) -> pd.DataFrame:
    return compare.load_articles(source)


# --- inputs ---
choices = compare.policy_choices(with_best_of_n=True)
sources = compare.article_sources()

st.title("Compare headlines")
st.caption("The same article, several policies, several temperatures: see how sampling temperature "
           "trades reward for diversity, and send headlines to the Rate page's queue.")

left, right = st.columns([3, 2])
with left:
    source = st.radio("Article", [FROM_DATA, PASTE], horizontal=True, key=keys.CMP_ARTICLE_SOURCE)
    article, reference = "", ""
    if source == FROM_DATA:
        dataset = st.selectbox("Articles from", sources, key=keys.CMP_DATASET)
        try:
            table = _articles(dataset)
        except Exception as exc:  # a broken saved file: say so and let the user paste instead
            show_error(exc, "Could not read the articles of this dataset")
            table = pd.DataFrame(columns=["article", "reference"])
        if table.empty:
            st.info("This dataset has no articles (e.g. headline-only ratings). Paste an article instead.")
        else:
            index = st.number_input(f"Article number (1-{len(table)})", 1, len(table), 1, key=keys.CMP_ARTICLE_INDEX)
            article = str(table.loc[int(index) - 1, "article"])
            reference = str(table.loc[int(index) - 1, "reference"])
            st.text_area("Article text", article, height=140, disabled=True)
    else:
        article = st.text_area("Paste a news article", height=140, key=keys.CMP_PASTED, max_chars=MAX_TEXT_CHARS)
    # keyed per article, so picking another article shows its own reference headline
    reference = st.text_input("Reference headline (for ROUGE; optional)", reference,
                              key=f"{keys.CMP_REFERENCE}_{zlib.crc32(article.encode('utf-8'))}")
with right:
    picked = st.multiselect("Policies (up to three)", list(choices), default=list(choices)[:1],
                            max_selections=MAX_POLICIES, key=keys.CMP_POLICIES)
    temperatures = st.multiselect("Temperatures", TEMPERATURE_OPTIONS, default=list(compare.DEFAULT_TEMPERATURES),
                                  key=keys.CMP_TEMPERATURES)
    c1, c2, c3 = st.columns(3)
    n = c1.number_input("Samples each", 1, 8, 2, key=keys.CMP_N)
    seed = c2.number_input("Seed", 0, 2**31 - 1, 0, key=keys.CMP_SEED)
    bon_n = c3.number_input("N of best-of-N", 2, 16, 4, key=keys.CMP_BON_N)
    rewards = reward_options()
    reward_label = st.selectbox("Reward model", [NONE, *rewards], key=keys.CMP_REWARD)
    personas = sorted(PERSONAS)
    persona = st.selectbox("Gold persona (synthetic data)", [NONE, *personas],
                           index=1 if personas else 0, key=keys.CMP_PERSONA)

# --- state ---
result = st.session_state.get(keys.CMP_RESULT)

# --- act: generate ---
if st.button("Generate", type="primary", icon=":material/play_arrow:", key=keys.CMP_GENERATE,
             disabled=not (picked and temperatures and article.strip())):
    scorer = None
    try:
        if reward_label != NONE:
            from ui.services import reward_scorer

            scorer = reward_scorer(rewards[reward_label])
        if any(choices[label].startswith(compare.BEST_OF_N_PREFIX) for label in picked) and scorer is None:
            raise ValueError("Best-of-N needs a reward model: choose one above.")
        with st.spinner("Loading models..."):
            policies = [(label, policy_or_best_of_n(choices[label], scorer, int(bon_n))) for label in picked]
        bar = st.progress(0.0, text="Generating...")
        grid = compare.compare_grid(
            policies, article, sorted(temperatures), n=int(n), seed=int(seed), reward_scorer=scorer,
            persona=None if persona == NONE else persona, reference=reference or None,
            progress=lambda done, total, label: bar.progress(done / total, text=f"Generated {label}"),
        )
        bar.empty()
        result = {"grid": grid.to_dict("records"), "article": article, "reference": reference}
        st.session_state[keys.CMP_RESULT] = result
    except Exception as exc:  # a model that fails to load or a bad input: say so, keep the page alive
        show_error(exc, "Could not generate")

# --- render ---
if result:
    grid = pd.DataFrame(result["grid"], columns=compare.GRID_COLUMNS)
    diversity = compare.diversity_by_temperature(grid)
    st.subheader("Headlines")
    picked_rows = st.dataframe(grid, hide_index=True, key=keys.CMP_GRID, on_select="rerun", selection_mode="multi-row",
                               column_config=GRID_FORMAT)
    st.subheader("Diversity per temperature")
    st.dataframe(diversity, hide_index=True,
                 column_config={k: st.column_config.NumberColumn(k, format="%.2f")
                                for k in ("distinct_1", "distinct_2", "self_rouge", "reward_mean", "gold_mean")})
    metric = "reward_mean" if diversity["reward_mean"].notna().any() else "gold_mean"
    st.plotly_chart(temperature_figure(diversity, metric))
    st.caption(f"Left: mean {'reward-model score' if metric == 'reward_mean' else 'gold persona score'} "
               "per cell. Right: share of distinct bigrams among the samples (higher = more diverse).")

    # --- act: send to the rating queue ---
    rows = list(picked_rows.selection.rows) if picked_rows is not None else []
    chosen = grid.iloc[rows] if rows else grid
    label = f"Send {len(rows)} selected" if rows else "Send all"
    if st.button(f"{label} to the rating queue", icon=":material/playlist_add:", key=keys.CMP_SEND,
                 help="Select rows in the table to send only those. Headlines go to the star queue; "
                      "with two or more policies, same-temperature pairs also go to the blind A/B queue."):
        from ui.services import ratings_store

        with guarded("Nothing was queued"):
            store = ratings_store()
            added = store.enqueue(compare.queue_items(chosen, result["article"]))
            added_pairs = store.enqueue_pairs(compare.queue_pairs(chosen, result["article"], seed=int(seed)))
            st.toast(f"Queued {added} headlines and {added_pairs} A/B pairs for rating.")
elif not choices:
    st.info("No policy is available yet.")
