"""Reward model: learn to predict the ratings, live, then prove it on held-out data.

Inputs (data, backbone, objective, quick mode, hyper-parameters), title, act (start), render (the live
run, or the results of a finished one; past runs side by side). Training runs in rlhf_core's JobRunner
thread (feedback.reward_trainer); this page only reads its files.
"""

from __future__ import annotations

import streamlit as st

from rlhf_core import feedback
from rlhf_core.errors import StudioError
from rlhf_core.reward.config import OBJECTIVES, RewardConfig, field_help
from ui import state
from ui.charts import REWARD_CHARTS, REWARD_COMPARE
from ui.config_form import config_form
from ui.mode import owner_only
from ui.pickers import FOLDER, folder_input
from ui.reward_panels import reward_results
from ui.runs import compare_runs, live_run, past_runs
from ui.services import job_runner, offline_status, ratings_store, reward_dir_of
from ui.trl_import import import_trl_expander
from ui.widgets import dataset_names, default_pick, finished_runs, list_runs, pick_run, show_error

HYPER = ("lr", "batch_size", "epochs", "max_steps", "max_length", "early_stopping_patience", "val_fraction",
         "expert_weight", "center_rewards_coef", "quick_head_steps", "seed")
TRAIN_DEFAULT = ("sample-train_ratings", "sample-train_preferences")

# --- inputs ---
owner_only()
defaults = RewardConfig(backbone="tiny")
runner = job_runner()
active = runner.active_run("reward")

st.title("Reward model")
st.caption("A reward model reads an (article, headline) pair and predicts how a person would rate it. "
           "The policy is later trained to please it, so it must rank unseen headlines the way people do.")
settings, main = st.columns([1, 2], gap="large")
with settings, st.container(border=True):
    options = dataset_names(("ratings", "preferences"))
    names = st.multiselect("Training data", options, default=default_pick(options, TRAIN_DEFAULT), key=state.REWARD_DATA,
                           help="Saved ratings and preference datasets (Data page). Ratings of one article also become pairs.")
    latest = finished_runs("reward")
    new = feedback.count_new(ratings_store(), reward_dir_of(latest[0]) if latest else None)
    use_collected = st.checkbox(f"Add ratings collected on the Rate page ({new['ratings']} new, {new['votes']} new A/B votes)",
                                key=state.REWARD_USE_RATINGS, value=bool(new["ratings"] or new["votes"]))
    if new["ratings"] or new["votes"]:
        st.caption(f":material/info: {new['ratings']} new ratings not in the current reward model.")
    backbones = ["minilm", "tiny", FOLDER] if offline_status().get("minilm") else ["tiny", FOLDER]
    backbone = st.selectbox("Backbone", backbones, key=state.REWARD_BACKBONE, help=field_help("backbone"))
    if backbone == FOLDER:
        backbone = folder_input("bert-base-uncased", state.REWARD_BACKBONE_DIR)  # "" for a folder outside the studio
    objective = st.radio("Objective", OBJECTIVES, index=OBJECTIVES.index(defaults.objective), horizontal=True,
                         key=state.REWARD_OBJECTIVE, help=field_help("objective"))
    quick = st.toggle("Quick mode (frozen encoder + linear head: seconds)", value=True, key=state.REWARD_QUICK,
                      help=field_help("quick"))
    fact_checks = st.checkbox("Fact checks in the input (full fine-tuning)", value=defaults.fact_checks, disabled=quick,
                              key=state.REWARD_FACT_CHECKS, help=field_help("fact_checks"))
    with st.expander("Hyper-parameters"):
        grid = st.columns(2)
        params = {}
        for i, name in enumerate(HYPER):
            params |= config_form(RewardConfig, defaults, [name], state.REWARD_PARAM_PREFIX, container=grid[i % 2])
    start = st.button("Start training", key="reward_start", type="primary", icon=":material/play_arrow:",
                      disabled=active is not None or not backbone,
                      help="One training job runs at a time." if active else None)
    import_trl_expander("reward", state.REWARD_RUN)  # a reward model trained on a cluster comes back as a run

# --- act ---
if start and backbone:
    try:
        cfg = RewardConfig(backbone=backbone, objective=objective, quick=quick, fact_checks=fact_checks, **params)
        make_iter = feedback.reward_trainer(cfg, names, ratings_store(), use_collected)
    except StudioError as exc:
        show_error(exc)
    else:
        config = {**cfg.to_dict(), "datasets": names, "collected_ratings": use_collected}
        st.session_state[state.REWARD_RUN] = runner.submit("reward", config, make_iter,
                                                           name=f"{backbone} {objective}{' quick' if quick else ''}")
        st.rerun()

# --- render ---
with main:
    if active is not None:
        live_run("Reward model", active.id, REWARD_CHARTS, "reward")
    elif not latest:
        st.info("No reward model yet: choose the data on the left and press **Start training**. "
                "With quick mode on, a model is ready in seconds.")
    else:
        reward_results(pick_run(latest, state.REWARD_RUN))

runs = list_runs("reward")
if runs:
    st.subheader("Past runs")
    past_runs(runs, {"backbone": lambda r, m: r.config.get("backbone"), "objective": lambda r, m: r.config.get("objective"),
                     "quick": lambda r, m: r.config.get("quick"),
                     "val spearman": lambda r, m: (r.summary or {}).get("eval/spearman"),
                     "val pairwise acc": lambda r, m: (r.summary or {}).get("eval/pairwise_accuracy"),
                     "steps": lambda r, m: (r.summary or {}).get("steps", r.step)})
    compare_runs(runs, state.REWARD_COMPARE, REWARD_COMPARE)
