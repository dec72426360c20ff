"""The Evaluate page's renderers: the settings form, the live job, and a finished evaluation's results.

Everything drawn comes from rlhf_core.evaluation (the results dict on disk, `result_tables`,
`verdicts`, the figures), which also writes report.html: the page and the report show the same
numbers. Untrusted text (policy names, headlines) goes through md_escape or dataframes.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import state
from ui.widgets import ACTIVE, job_panel, md_escape, run_get

NONE = "(none)"
OWN_START = "(the first run's starting point)"


def newest_runs(choices: dict[str, str]) -> list[str]:
    """The `run: ...` labels among the policy choices, the most recently trained first."""
    from pathlib import Path

    def trained(label: str) -> float:
        folder = Path(choices[label])
        return folder.stat().st_mtime if folder.exists() else 0.0

    return sorted((label for label in choices if label.startswith("run: ")), key=trained, reverse=True)


def settings_form(choices: dict[str, str], data_options: list[str], reward_runs: dict[str, str], personas: list[str],
                  curve_runs: dict[str, int]) -> dict:
    """The evaluation's inputs; returns the chosen values (labels as the selectboxes show them).

    curve_runs: policy-run label -> how many checkpoints it has.
    """
    from rlhf_core.evaluation.config import EvalConfig
    from ui.config_form import field_input
    from ui.widgets import default_pick, persona_of

    runs = newest_runs(choices)
    picked = {}
    left, right = st.columns([2, 1])
    picked["policies"] = left.multiselect("Policies", list(choices), default=runs[:2] or list(choices)[:1], key=state.EVAL_POLICIES)
    picked["baseline"] = right.selectbox("Baseline", [OWN_START, *choices], key=state.EVAL_BASELINE,
                                         help="Every other policy's win rate is measured against this one. Default: the policy "
                                              "the first chosen run started from (its SFT policy, say).")
    left, middle, right = st.columns(3)
    picked["data"] = left.selectbox(
        "Held-out articles", data_options or ["(no dataset: see the Data page)"], key=state.EVAL_DATA,
        index=data_options.index(default_pick(data_options, ("sample-test_ratings",))[0]) if data_options else 0,
        help="Articles no policy was trained on (the test split). The reference for ROUGE is the dataset's own headline "
             "(for ratings: the best-rated one).")
    picked["reward"] = middle.selectbox("Reward model (the proxy)", [*reward_runs, NONE], key=state.EVAL_REWARD)
    guess = persona_of([picked["data"]]) or NONE
    picked["persona"] = right.selectbox("Gold persona (synthetic data)", personas, index=personas.index(guess),
                                        key=state.EVAL_PERSONA)
    cols = st.columns([2, 1, 1, 1, 1])
    picked["curve"] = cols[0].selectbox("Over-optimisation curve of", [NONE, *(r for r in runs if r in curve_runs)],
                                        key=state.EVAL_CURVE,
                                        help="A policy run: each of its checkpoints is scored against sqrt(KL) to its start, "
                                             "next to best-of-n from the same start (needs the reward model).")
    if picked["curve"] != NONE and (count := curve_runs[picked["curve"]]) < 2:
        cols[0].caption(f"This run has {count} checkpoint{'s' * (count != 1)}: the RL curve needs at least 2. Train with "
                        "*save every* set (for example every 25 steps) to draw it; best-of-n is drawn anyway.")
    defaults = EvalConfig()
    for col, (name, key) in zip(cols[1:], (("articles", state.EVAL_ARTICLES), ("n", state.EVAL_SAMPLES),
                                           ("temperature", state.EVAL_TEMPERATURE), ("seed", state.EVAL_SEED))):
        label = {"n": "headlines per article", "temperature": "temperature (0 = greedy)"}.get(name)
        picked[name] = field_input(EvalConfig, name, getattr(defaults, name), key, col, label)  # the config's help and bounds
    return picked


@st.fragment(run_every=1.0)
def live_panel(run_id: str) -> None:
    """Progress of the running evaluation (which policy, which phase), with Cancel."""
    def draw(metrics: list[dict], info) -> None:
        if run_get(info, "status") not in ACTIVE:
            st.rerun()  # finished: one full rerun shows the results
        phase = metrics[-1].get("phase") if metrics else "loading the policies and the reward model"
        st.caption(f"Now: {md_escape(phase)}")

    job_panel("Evaluation", run_id, draw)


def render_results(results: dict, run_dir) -> None:
    """A finished evaluation: verdicts, charts, tables, the headlines and the report's files."""
    from pathlib import Path

    from rlhf_core.evaluation import figures
    from rlhf_core.evaluation.report import column_format, result_tables, verdicts

    data = results["data"]
    st.subheader(f"Results on {data.get('name') or data.get('path')}")
    st.caption(f"{data['articles']} held-out articles, {results['config']['n']} headlines each at temperature "
               f"{results['config']['temperature']:g}, seed {results['config']['seed']}; baseline {results['baseline']}.")
    by_policy: dict[str, list[dict]] = {}
    for verdict in verdicts(results):
        by_policy.setdefault(verdict["policy"], []).append(verdict)
    for items in by_policy.values():  # one box per policy, coloured by the judge that matters most: gold, people, proxy
        lead = min(items, key=lambda v: ("gold", "human", "reward").index(v["judge"]))
        {"better": st.success, "worse": st.error}.get(lead["verdict"], st.info)("  \n".join(md_escape(v["sentence"]) for v in items))
    for note in results.get("notes") or []:
        st.warning(md_escape(note), icon=":material/info:")
    tables = {key: (title, frame, caption) for key, title, frame, caption in result_tables(results)}
    left, right = st.columns(2)
    left.plotly_chart(figures.scores_figure(results), key="eval_fig_scores")
    if "wins" in tables:
        right.plotly_chart(figures.win_rate_figure(results), key="eval_fig_wins")
    else:
        right.info("Pick two policies or more to see win rates against the baseline.")
    if results.get("curve"):
        st.plotly_chart(figures.curve_figure(results["curve"]), key="eval_fig_curve")
    if "leaderboard" in tables:
        st.plotly_chart(figures.leaderboard_figure(results), key="eval_fig_board")
    def show(frame: pd.DataFrame, key: str) -> None:  # the report's number formats, column by column
        st.dataframe(frame, hide_index=True, key=key, column_config={
            c: st.column_config.NumberColumn(format=fmt) for c in frame.columns if (fmt := column_format(frame, c))})

    for key, (title, frame, caption) in tables.items():
        st.markdown(f"**{md_escape(title)}**")
        show(frame, f"eval_table_{key}")
        st.caption(caption)
    folder = Path(run_dir)
    with st.expander("Headlines written"):
        if (folder / "headlines.csv").is_file():
            show(pd.read_csv(folder / "headlines.csv", keep_default_na=False, na_values=[""]), "eval_table_headlines")
    cols = st.columns(3)
    for col, (name, mime) in zip(cols, (("report.html", "text/html"), ("results.json", "application/json"),
                                        ("headlines.csv", "text/csv"))):
        if (folder / name).is_file():
            col.download_button(name, (folder / name).read_bytes(), name, mime, key=f"eval_dl_{name}",
                                icon=":material/download:")
    st.caption(f"Also on disk: {md_escape(folder)}. report.html opens in any browser without a network.")
