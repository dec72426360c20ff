"""The Reward page's results panel: a finished reward model's validation summary and its held-out evaluation
(metrics with their meaning, calibration, the worst-ranked examples), computed by rlhf_core.reward.evaluate."""

from __future__ import annotations

import streamlit as st

from rlhf_core.errors import StudioError
from ui import state
from ui.charts import REWARD_CHARTS, calibration_figure
from ui.runs import run_results
from ui.services import evaluate_reward_run, reward_dir_of
from ui.widgets import STATUS_ICON, dataset_names, default_pick, md_escape, persona_of, run_get, run_label, show_error

EVAL_DEFAULT = ("sample-test_ratings", "sample-test_preferences")
VALIDATION = (("Val Spearman", "eval/spearman"), ("Val pairwise acc.", "eval/pairwise_accuracy"), ("Val loss", "loss/val"),
              ("Best step", "best_step"))
HELD_OUT = (("Spearman", "spearman", "Rank correlation of the rewards with the human scores."),
            ("Pearson", "pearson", "Linear correlation of the rewards with the human scores."),
            ("Acc. @0.5", "accuracy", "The seed's metric: reward > 0.5 agrees with score > 0.5."),
            ("Pairwise", "pairwise_accuracy", "Share of preference pairs ranked the right way round."),
            ("Gold", "gold_agreement", "Gold agreement: Spearman with the hidden persona's noise-free score."),
            ("Ceiling", "ceiling", "The persona's own noise-free score against these ratings."))


def reward_results(info) -> None:
    """Validation summary, held-out evaluation (metrics, calibration, worst examples), training curves."""
    summary = run_get(info, "summary") or {}
    st.markdown(f"{STATUS_ICON.get(run_get(info, 'status'), '')} **{md_escape(run_label(info))}** · backbone "
                f"`{summary.get('backbone', '?')}` · objective `{summary.get('objective', '?')}`"
                f"{' · quick mode' if summary.get('quick') else ''}")
    for col, (label, key) in zip(st.columns(len(VALIDATION)), VALIDATION):
        value = summary.get(key)
        col.metric(label, "-" if value is None else f"{value:.3f}" if isinstance(value, float) else value)
    model_dir = reward_dir_of(info)
    options = dataset_names(("ratings", "preferences"))
    picked = st.multiselect("Evaluate on held-out datasets", options, default=default_pick(options, EVAL_DEFAULT),
                            key=state.REWARD_EVAL_DATA, help="Use data the model was not trained on (the test split).")
    if model_dir and picked:
        try:
            held_out(evaluate_reward_run(model_dir, tuple(picked), persona_of(picked)))
        except StudioError as exc:
            show_error(exc)
            return
    run_results(run_get(info, "id"), REWARD_CHARTS, "reward")


def held_out(result: dict) -> None:
    for col, (label, key, explain) in zip(st.columns(len(HELD_OUT)), HELD_OUT):
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
