"""Reward model: learn to predict the ratings, live, then prove it on held-out data.

Inputs (data, backbone, objective, quick mode, hyper-parameters), title, state (the live job),
render (progress + live charts, or the results of a finished run; past runs side by side),
act (start / cancel). Training runs in rlhf_core's JobRunner thread; this page only reads its files.
"""

from __future__ import annotations

from dataclasses import fields

import pandas as pd
import streamlit as st

from rlhf_core.bounds import bounds
from rlhf_core.errors import StudioError
from rlhf_core.metrics import describe
from rlhf_core.reward.config import OBJECTIVES, RewardConfig, field_help
from ui import state
from ui.charts import REWARD_CHARTS, calibration_figure, compare_runs_figure, has_any, metrics_figure
from ui.services import evaluate_reward_run, job_runner, offline_status, ratings_store, reward_dir_of
from ui.trl_import import import_trl_expander
from ui.widgets import (ACTIVE, STATUS_ICON, dataset_names, default_pick, finished_runs, job_panel, list_runs, md_escape,
                        owner_only, persona_of, pick_run, run_get, run_label, show_error)

FOLDER = "a folder or hub id"
HYPER = ("lr", "batch_size", "epochs", "max_steps", "max_length", "early_stopping_patience", "val_fraction",
         "expert_weight", "center_rewards_coef", "quick_head_steps", "seed")
STEPS = {"epochs": 0.5, "expert_weight": 0.5, "center_rewards_coef": 0.01}
TRAIN_DEFAULT = ("sample-train_ratings", "sample-train_preferences")
EVAL_DEFAULT = ("sample-test_ratings", "sample-test_preferences")


def number_input(name: str, defaults: RewardConfig, container):
    """A number input for one RewardConfig field, its help text taken from the config itself."""
    value = getattr(defaults, name)
    kwargs = {"format": "%.1e", "step": 1e-5} if name == "lr" else {"step": STEPS.get(name, 0.05)} if isinstance(value, float) else {}
    lo, hi = bounds(RewardConfig, name)  # the config's own range (rlhf_core/bounds.py)
    kind = type(value)
    return container.number_input(name.replace("_", " "), min_value=kind(lo), max_value=kind(hi), value=value, help=field_help(name),
                                  key=state.REWARD_PARAM_PREFIX + name, **kwargs)


def draw_charts(metrics: list[dict]) -> None:
    cols = st.columns(len(REWARD_CHARTS))
    for col, (title, keys) in zip(cols, REWARD_CHARTS):
        if has_any(metrics, keys):
            col.plotly_chart(metrics_figure(metrics, keys, title), key=f"reward_chart_{title}")
            col.caption(" ".join(describe(k) for k in keys if describe(k)))


@st.fragment(run_every=1.0)
def live_panel(run_id: str) -> None:
    def draw(metrics: list[dict], info) -> None:
        if run_get(info, "status") not in ACTIVE:
            st.rerun()  # the run ended: one full rerun swaps this panel for the results
        draw_charts(metrics)

    job_panel("Reward model", run_id, draw)


def collected_tables(use_collected: bool):
    """Ratings and A/B votes from the Rate page as training tables, with the snapshot of store rows used."""
    from rlhf_core import feedback

    if not use_collected:
        return None, None, feedback.FeedbackSnapshot()
    store = ratings_store()
    raw_ratings, raw_votes = store.ratings_frame(), store.votes_frame()
    return (feedback.collected_ratings(raw_ratings), feedback.collected_preferences(raw_votes),
            feedback.snapshot_of(raw_ratings, raw_votes))


def make_trainer(cfg: RewardConfig, names: list[str], use_collected: bool):
    """Load and merge the chosen data now (errors show on the page), return the job's make_iter."""
    from rlhf_core import feedback
    from rlhf_core.reward.train import train_reward
    from ui.widgets import load_tables

    tables = load_tables(names)
    got_ratings, got_votes, snapshot = collected_tables(use_collected)
    ratings = feedback.merge_tables(tables.get("ratings"), got_ratings if got_ratings is not None else pd.DataFrame(), "ratings")
    prefs = feedback.merge_tables(tables.get("preferences"), got_votes if got_votes is not None else pd.DataFrame(), "preferences")
    if not len(ratings) and not len(prefs):
        raise StudioError("Choose at least one ratings or preferences dataset (or collect ratings on the Rate page).")
    ratings, prefs = (ratings if len(ratings) else None), (prefs if len(prefs) else None)

    def make_iter(out_dir):
        yield from train_reward(cfg, ratings, prefs, out_dir, score_scale=tables.get("scale"))
        feedback.write_snapshot(out_dir, snapshot)  # which collected ratings this model has seen

    return make_iter


def show_results(info) -> None:
    """Validation summary, held-out evaluation (metrics, calibration, worst examples), training curves."""
    summary = run_get(info, "summary") or {}
    st.markdown(f"{STATUS_ICON.get(run_get(info, 'status'), '')} **{md_escape(run_label(info))}** · backbone `{summary.get('backbone', '?')}` · "
                f"objective `{summary.get('objective', '?')}`{' · quick mode' if summary.get('quick') else ''}")
    cols = st.columns(4)
    for col, (label, key) in zip(cols, (("Val Spearman", "eval/spearman"), ("Val pairwise acc.", "eval/pairwise_accuracy"),
                                        ("Val loss", "loss/val"), ("Best step", "best_step"))):
        value = summary.get(key)
        col.metric(label, "-" if value is None else f"{value:.3f}" if isinstance(value, float) else value)
    model_dir = reward_dir_of(info)
    eval_options = dataset_names(("ratings", "preferences"))
    picked = st.multiselect("Evaluate on held-out datasets", eval_options, default=default_pick(eval_options, EVAL_DEFAULT),
                            key=state.REWARD_EVAL_DATA, help="Use data the model was not trained on (the test split).")
    if model_dir and picked:
        try:
            result = evaluate_reward_run(model_dir, tuple(picked), persona_of(picked))
        except StudioError as exc:
            show_error(exc)
            return
        metrics = (("Spearman", "spearman", "Rank correlation of the rewards with the human scores."),
                   ("Pearson", "pearson", "Linear correlation of the rewards with the human scores."),
                   ("Acc. @0.5", "accuracy", "The seed's metric: reward > 0.5 agrees with score > 0.5."),
                   ("Pairwise", "pairwise_accuracy", "Share of preference pairs ranked the right way round."),
                   ("Gold", "gold_agreement", "Gold agreement: Spearman with the hidden persona's noise-free score."),
                   ("Ceiling", "ceiling", "The persona's own noise-free score against these ratings."))
        for col, (label, key, explain) in zip(st.columns(len(metrics)), metrics):
            value = result.get(key)
            col.metric(label, "-" if value is None else f"{value:.3f}", help=explain)
        st.caption(f"{result['n_ratings']} rated headlines, {result['n_pairs']} pairs. Acc. @0.5 is the seed's binary "
                   "accuracy; gold agreement is the Spearman correlation with the hidden persona (synthetic data). "
                   "Ceiling: the persona's own noise-free score reaches only this Spearman against the ratings "
                   "(rater noise moves headlines across star boundaries, many share a star), so no reward model's "
                   "Spearman can go much above it.")
        left, right = st.columns([2, 3])
        calibration = result["calibration"]
        if len(calibration):
            table = calibration.rename(columns={"mean_predicted": "predicted", "mean_actual": "actual", "n": "count"})
            left.plotly_chart(calibration_figure(table), key="reward_calibration")
        if len(result["worst"]):
            right.markdown("**Worst-ranked examples** (largest gap between predicted and human rank)")
            worst = result["worst"]
            right.dataframe(worst, hide_index=True, height=300,
                            column_order=[c for c in ("headline", "score", "predicted", "rank_error", "article") if c in worst])
    draw_charts(job_runner().read_metrics(run_get(info, "id")))


# --- inputs ---
owner_only()
defaults = RewardConfig(backbone="tiny")
models = offline_status()
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
    try:
        from rlhf_core import feedback

        latest = finished_runs("reward")
        new = feedback.count_new(ratings_store(), reward_dir_of(latest[0]) if latest else None)
    except (ImportError, StudioError):
        new = {"ratings": 0, "votes": 0}
    use_collected = st.checkbox(f"Add ratings collected on the Rate page ({new['ratings']} new, {new['votes']} new A/B votes)",
                                key=state.REWARD_USE_RATINGS, value=bool(new["ratings"] or new["votes"]))
    if new["ratings"] or new["votes"]:
        st.caption(f":material/info: {new['ratings']} new ratings not in the current reward model.")
    backbones = ["minilm", "tiny", FOLDER] if models.get("minilm") else ["tiny", FOLDER]
    backbone = st.selectbox("Backbone", backbones, key=state.REWARD_BACKBONE, help=field_help("backbone"))
    if backbone == FOLDER:
        backbone = st.text_input("Folder or hub id", "bert-base-uncased", key=state.REWARD_BACKBONE_DIR)
    objective = st.radio("Objective", OBJECTIVES, index=OBJECTIVES.index(defaults.objective), horizontal=True,
                         key=state.REWARD_OBJECTIVE, help=field_help("objective"))
    quick = st.toggle("Quick mode (frozen encoder + linear head: seconds)", value=True, key=state.REWARD_QUICK,
                      help=field_help("quick"))
    fact_checks = st.checkbox("Fact checks in the input (full fine-tuning)", value=defaults.fact_checks, disabled=quick,
                              key=state.REWARD_FACT_CHECKS, help=field_help("fact_checks"))
    with st.expander("Hyper-parameters"):
        grid = st.columns(2)
        params = {name: number_input(name, defaults, grid[i % 2]) for i, name in enumerate(HYPER)}
    start = st.button("Start training", key="reward_start", type="primary", icon=":material/play_arrow:",
                      disabled=active is not None, help="One training job runs at a time." if active else None)
    import_trl_expander("reward", state.REWARD_RUN)  # a reward model trained on a cluster comes back as a run

# --- act ---
if start:
    try:
        types = {f.name: f.type for f in fields(RewardConfig)}
        cfg = RewardConfig(backbone=backbone, objective=objective, quick=quick, fact_checks=fact_checks,
                           **{k: (int(v) if types[k] in ("int", int) else float(v)) for k, v in params.items()})
        from rlhf_core.models.registry import check_model_spec

        check_model_spec(cfg.backbone)  # a typed folder must be inside the studio's folders
        make_iter = make_trainer(cfg, names, use_collected)
    except StudioError as exc:
        show_error(exc)
    else:
        config = {**cfg.to_dict(), "datasets": names, "collected_ratings": use_collected}
        run_id = runner.submit("reward", config, make_iter, name=f"{backbone} {objective}{' quick' if quick else ''}")
        st.session_state[state.REWARD_RUN] = run_id
        st.rerun()

# --- render ---
with main:
    if active is not None:
        live_panel(active.id)
    else:
        done = finished_runs("reward")
        if not done:
            st.info("No reward model yet: choose the data on the left and press **Start training**. "
                    "With quick mode on, a model is ready in seconds.")
        else:
            show_results(pick_run(done, state.REWARD_RUN))

runs = list_runs("reward")
if runs:
    st.subheader("Past runs")
    rows = [{"run": r.id, "name": r.name, "status": r.status, "backbone": r.config.get("backbone"),
             "objective": r.config.get("objective"), "quick": r.config.get("quick"),
             "val spearman": (r.summary or {}).get("eval/spearman"), "val pairwise acc": (r.summary or {}).get("eval/pairwise_accuracy"),
             "steps": (r.summary or {}).get("steps", r.step), "error": r.error} for r in runs]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    picked = st.multiselect("Compare runs side by side", [r.id for r in runs], default=[r.id for r in runs[:2]],
                            key=f"{state.REWARD_COMPARE}-{runs[0].id}")  # a new run resets the choice to the two newest
    if picked:
        curves = {rid: runner.read_metrics(rid) for rid in picked}
        charts = [(key, title) for key, title in (("eval/spearman", "Validation Spearman"), ("loss/val", "Validation loss"))
                  if any(has_any(rows, (key,)) for rows in curves.values())]
        for col, (key, title) in zip(st.columns(2), charts):
            col.plotly_chart(compare_runs_figure(curves, key, title), key=f"reward_cmp_{key}")
