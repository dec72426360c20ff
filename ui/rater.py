"""The Compare / Rate pages' session-state keys, and the Rate page's owner panels (queue, flow-back,
agreement, export), never drawn in rater mode (the switch itself is ui/mode.py)."""

from __future__ import annotations

import streamlit as st

from ui.mode import rater_mode
from ui.widgets import show_error

# --- Compare page (session-state and widget keys) ----------------------------------------------
CMP_ARTICLE_SOURCE = "cmp_article_source"  # radio: dataset / paste
CMP_DATASET = "cmp_dataset"                # selectbox: dataset (or sample data) to take articles from
CMP_ARTICLE_INDEX = "cmp_article_index"    # number_input: which article of that dataset
CMP_PASTED = "cmp_pasted"                  # text_area: a pasted article
CMP_REFERENCE = "cmp_reference"            # prefix + crc32(article): text_input, reference headline for ROUGE
CMP_POLICIES = "cmp_policies"              # multiselect: up to three policies
CMP_TEMPERATURES = "cmp_temperatures"      # multiselect: temperatures
CMP_N = "cmp_n"                            # number_input: samples per cell
CMP_SEED = "cmp_seed"                      # number_input: seed
CMP_REWARD = "cmp_reward"                  # selectbox: reward model run (or none)
CMP_PERSONA = "cmp_persona"                # selectbox: gold persona (or none)
CMP_BON_N = "cmp_bon_n"                    # number_input: N of the best-of-N policy
CMP_RESULT = "cmp_result"                  # dict: the last grid (records) and its inputs
CMP_GENERATE = "cmp_generate"              # button
CMP_SEND = "cmp_send"                      # button: send to rating queue
CMP_GRID = "cmp_grid"                      # dataframe: the grid (its row selection picks what to send)

# --- Rate page ----------------------------------------------------------------------------------
RATE_RATER = "rate_rater"                  # text_input: the rater's name
RATE_RATER_NAME = "rate_rater_name"        # str: the rater's name, remembered across pages for the session
RATE_SKIP = "rate_skip"                    # prefix + kind + item id: skip the shown item / pair
RATE_UNDO = "rate_undo"                    # button: undo the rater's last rating or vote
RATE_GUIDELINES_SAVE = "rate_guidelines_save"  # button
RATE_MODE = "rate_mode"                    # radio: stars / A/B
RATE_STARS = "rate_stars"                  # prefix + item id + stars: the star buttons (ui/rating.py)
RATE_VOTE = "rate_vote"                    # prefix + pair id + verdict: A/B buttons
RATE_SKIPPED = "rate_skipped"              # set of item ids / pair ids this session skipped
RATE_SESSION = "rate_session"              # str: this browser session's undo token (never sent to the browser)
RATE_REVEAL = "rate_reveal"                # dict: the last A/B vote and who wrote which headline
RATE_FLASH = "rate_flash"                  # one-shot message shown after a rerun
RATE_GUIDELINES_EDIT = "rate_guidelines_edit"  # text_area: the owner's guidelines editor
RATE_QUEUE_POLICIES = "rate_queue_policies"    # multiselect: policies for an on-demand queue
RATE_QUEUE_DATASET = "rate_queue_dataset"      # selectbox: articles for an on-demand queue
RATE_QUEUE_ARTICLES = "rate_queue_articles"    # number_input: how many articles
RATE_QUEUE_TEMPERATURE = "rate_queue_temperature"
RATE_QUEUE_GO = "rate_queue_go"                # button: generate the queue
RATE_RETRAIN_BACKBONE = "rate_retrain_backbone"  # selectbox: encoder of the quick reward model
RATE_RETRAIN_GO = "rate_retrain_go"            # button: quick retrain
RATE_RETRAIN_DATASET = "rate_retrain_dataset"  # selectbox: dataset merged with the ratings
RATE_RETRAIN_RUN = "rate_retrain_run"          # run id of the last quick retrain


# --- The owner's panels on the Rate page (never drawn in rater mode) ----------------------------
def _owner_only() -> None:
    if rater_mode():  # defence in depth: the Rate page already skips these panels in rater mode
        raise RuntimeError("owner panels are not available in rater mode")


def queue_panel(store) -> None:
    """Generate headlines on demand for chosen policies and articles, into both rating queues."""
    from rlhf_core import compare
    from ui.services import policy

    _owner_only()
    with st.expander("Add headlines to the queue", icon=":material/playlist_add:"):
        choices = compare.policy_choices()
        picked = st.multiselect("Policies", list(choices), default=list(choices)[:1], max_selections=4,
                                key=RATE_QUEUE_POLICIES)
        sources = compare.article_sources()
        c1, c2, c3 = st.columns(3)
        source = c1.selectbox("Articles from", sources, key=RATE_QUEUE_DATASET)
        count = c2.number_input("Articles", 1, 50, 5, key=RATE_QUEUE_ARTICLES)
        temperature = c3.number_input("Temperature", 0.1, 2.0, 0.7, 0.1, key=RATE_QUEUE_TEMPERATURE)
        st.caption("Each policy writes two headlines per article: all go to the star queue; one per "
                   "policy (or two of one policy) are paired for the blind A/B queue.")
        if st.button("Generate queue", icon=":material/play_arrow:", key=RATE_QUEUE_GO, disabled=not picked):
            try:
                articles = compare.load_articles(source)["article"].tolist()[: int(count)]
                with st.spinner(f"Writing headlines for {len(articles)} articles..."):
                    policies = [(label, policy(choices[label])) for label in picked]
                    items, pairs = compare.rating_queue(policies, articles, float(temperature))
                added, added_pairs = store.enqueue(items), store.enqueue_pairs(pairs)
                st.toast(f"Queued {added} headlines and {added_pairs} A/B pairs.")
            except Exception as exc:  # a model or dataset that fails: say so, keep the page alive
                show_error(exc, "Could not build the queue")


def current_reward_dir():
    """The checkpoint folder of the newest finished reward run (None if no reward model was trained)."""
    from pathlib import Path

    from ui.services import reward_dir_of
    from ui.widgets import finished_runs

    for info in finished_runs("reward"):
        folder = reward_dir_of(info)
        if folder:
            return Path(folder)
    return None


def flow_back_panel(store) -> None:
    """'N new ratings not in the reward model' and a quick retrain on dataset + collected feedback."""
    from rlhf_core import compare, feedback
    from ui.services import job_runner

    _owner_only()
    st.subheader("Flow back into the reward model")
    reward_dir = current_reward_dir()
    new = feedback.count_new(store, reward_dir)
    c1, c2, c3 = st.columns(3)
    c1.metric("New ratings not in the reward model", new["ratings"])
    c2.metric("New A/B votes not in the reward model", new["votes"])
    c3.metric("Current reward model", reward_dir.parent.name if reward_dir else "none yet")
    sources = [s for s in compare.article_sources() if not s.startswith("synthetic")]
    c1, c2 = st.columns(2)
    dataset = c1.selectbox("Merge with dataset", ["(collected ratings only)", *sources], key=RATE_RETRAIN_DATASET)
    backbone = c2.selectbox("Encoder", ["minilm", "tiny"], key=RATE_RETRAIN_BACKBONE,
                            help="Quick mode trains a linear head on the frozen encoder's embeddings: seconds.")
    if st.button("Retrain reward model (quick)", icon=":material/model_training:", key=RATE_RETRAIN_GO,
                 disabled=not (new["ratings"] or new["votes"] or len(store.ratings_frame()))):
        try:
            base = None if dataset.startswith("(") else _dataset_table(dataset)
            # the store reads the ratings in the job's thread (it keeps one SQLite connection per thread)
            st.session_state[RATE_RETRAIN_RUN] = job_runner().submit(
                "reward", {"quick": True, "backbone": backbone, "feedback": True, "dataset": dataset},
                lambda out_dir: feedback.retrain_from_store(store, out_dir, dataset=base, backbone=backbone),
                name="quick retrain with collected ratings", exclusive="quick-retrain",  # a second click is refused
            )
        except Exception as exc:  # an unreadable dataset: say so, keep the page alive
            show_error(exc, "Could not start the retrain")
    run_id = st.session_state.get(RATE_RETRAIN_RUN)
    if run_id:
        _retrain_fragment(run_id)


def _dataset_table(source: str):
    """A saved dataset or sample file as LoadedData (for merging its ratings / preferences)."""
    kind, _, name = source.partition(": ")
    if kind == "dataset":
        from rlhf_core.data.datasets import load_dataset

        return load_dataset(name)
    from rlhf_core.data.loaders import load_file
    from rlhf_core.paths import sample_data_dir

    return load_file(sample_data_dir() / name)


@st.fragment(run_every=1.0)
def _retrain_fragment(run_id: str) -> None:
    from ui.widgets import job_panel, last_metric

    def draw(metrics, info):
        spearman = last_metric(metrics, "eval/spearman")
        if spearman is not None:
            st.caption(f"Validation Spearman: {spearman:.3f}")

    job_panel("Quick retrain", run_id, draw)


def agreement_panel(store) -> None:
    """Per-rater counts, Krippendorff's alpha, A/B agreement and the Bradley-Terry ranking."""
    import numpy as np

    from rlhf_core import agreement

    _owner_only()
    st.subheader("Agreement")
    ratings, votes = store.ratings_frame(), store.votes_frame()
    alpha = agreement.krippendorff_alpha(ratings)
    ab = agreement.ab_agreement(votes)
    c1, c2, c3 = st.columns(3)
    shared = int(((~np.isnan(agreement.reliability_matrix(ratings))).sum(axis=0) >= 2).sum()) if len(ratings) else 0
    c1.metric("Krippendorff's alpha (stars, ordinal)", "n/a" if alpha != alpha else f"{alpha:.2f}",
              help="1 = raters agree perfectly, 0 = chance level, < 0 = systematic disagreement. "
                   f"Computed over the {shared} headlines rated by two or more raters; "
                   "with only a few such headlines it is very uncertain.")
    c2.metric("A/B agreement", "n/a" if ab["agreement"] != ab["agreement"] else f"{ab['agreement']:.0%}",
              help=f"Share of rater pairs giving the same verdict, over {ab['pairs']} pairs judged by 2+ raters.")
    c3.metric("Ratings / votes", f"{len(ratings)} / {len(votes)}")
    left, right = st.columns(2)
    with left:
        st.caption("Per rater")
        st.dataframe(store.counts_by_rater(), hide_index=True)
    with right:
        st.caption("Bradley-Terry ranking of policies (from A/B votes; ties = half a win)")
        ranking = agreement.bradley_terry(votes)
        if ranking.empty:
            st.text("No A/B votes between two different policies yet.")
        else:
            st.dataframe(ranking, hide_index=True, column_config={
                "strength": st.column_config.ProgressColumn("strength", min_value=0.0, max_value=1.0, format="%.2f"),
                "elo": st.column_config.NumberColumn("elo", format="%.0f")})


def export_panel(store) -> None:
    """Download the ratings and votes (CSV, JSONL) and TRL-style preference pairs."""
    _owner_only()
    st.subheader("Export")
    cols = st.columns(5)
    cols[0].download_button("Ratings CSV", store.export_csv("ratings"), "ratings.csv", "text/csv", key="rate_dl_rcsv")
    cols[1].download_button("Ratings JSONL", store.export_jsonl("ratings"), "ratings.jsonl", "application/jsonl",
                            key="rate_dl_rjsonl")
    cols[2].download_button("Votes CSV", store.export_csv("votes"), "votes.csv", "text/csv", key="rate_dl_vcsv")
    cols[3].download_button("Votes JSONL", store.export_jsonl("votes"), "votes.jsonl", "application/jsonl",
                            key="rate_dl_vjsonl")
    cols[4].download_button("Preferences (TRL) JSONL", store.preferences_jsonl(), "preferences.jsonl",
                            "application/jsonl", key="rate_dl_prefs",
                            help="{prompt, chosen, rejected} per A/B vote with a winner: DPO / reward training data.")
