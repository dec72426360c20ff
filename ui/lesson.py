"""The Lesson page's pieces: a card per stage (two sentences, a live chart), the before/after and
2 x 2 tables, and the presenter's large font. The lesson itself lives in rlhf_core.lesson."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from rlhf_core.lesson import plan
from rlhf_core.lesson.config import Stage
from rlhf_core.lesson.report import curve_summary
from ui import state
from ui.charts import metrics_figure, runs_metrics_figure
from ui.services import job_runner
from ui.widgets import ACTIVE, job_panel, show_error

STATUS_ICON = {plan.DONE: ":material/check_circle:", plan.LIVE: ":material/directions_run:",
               plan.BROKEN: ":material/error:", plan.PENDING: ":material/radio_button_unchecked:"}
LARGE_FONT_CSS = """<style>
html, body, [data-testid="stAppViewContainer"] { font-size: 22px; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.25rem; line-height: 1.5; }
[data-testid="stDataFrame"], [data-testid="stTable"] { font-size: 1.1rem; }
h1 { font-size: 3rem !important; } h2 { font-size: 2.3rem !important; } h3 { font-size: 1.9rem !important; }
</style>"""


def presenter_font() -> None:
    """Apply the large font when the sidebar's presenter toggle is on (our own CSS, no user text)."""
    if st.session_state.get(state.LARGE_FONT):
        st.html(LARGE_FONT_CSS)


def stage_card(stage: Stage, status: str, run_ids: list[str]) -> None:
    """A stage: title and status, what is happening and what to watch, then its chart (live while it runs)."""
    with st.container(border=True, key=f"lesson_stage_{stage.key}"):
        st.subheader(f"{stage.title}")
        st.markdown(f"{STATUS_ICON[status]} **What is happening.** {stage.what}\n\n**What to watch.** {stage.watch}")
        if status == plan.LIVE:
            live_stage(stage.key, tuple(run_ids))
        elif run_ids:
            draw_stage(stage.key, list(run_ids))


@st.fragment(run_every=2.0)
def live_stage(key: str, run_ids: tuple[str, ...]) -> None:
    """Progress and the stage's chart, redrawn every two seconds (each redraw takes CPU from the training
    beside it); one full rerun when the stage ends."""
    runner = job_runner()
    if all(runner.status(run_id).status not in ACTIVE for run_id in run_ids):
        st.rerun()

    def draw(metrics, info) -> None:
        pass  # the chart below covers every run of the stage at once

    for run_id in run_ids:
        job_panel(runner.status(run_id).name, run_id, draw)
    draw_stage(key, list(run_ids))


def draw_stage(key: str, run_ids: list[str]) -> None:
    """The chart (or table) a stage is read by, from its runs' files."""
    runner = job_runner()
    metrics = {runner.status(r).name: runner.read_metrics(r) for r in run_ids}
    rows = next(iter(metrics.values()), [])
    info = runner.status(run_ids[0])
    if info.status == "failed":
        show_error(info.error or "no error recorded", "This stage failed")
    if key in ("newsroom", "hack_data", "rival_data") and info.summary:
        stars = info.summary.get("stars") or {}
        st.bar_chart(pd.DataFrame({"ratings": list(stars.values())}, index=[f"{k} stars" for k in stars]), height=200)
        st.caption(f"Saved as datasets: {', '.join(info.summary.get('datasets', []))}")
    elif key in ("sft", "generalist"):
        left, right = st.columns(2)
        title = "Loss on the expert headlines" if key == "sft" else "Loss on every rated headline"
        left.plotly_chart(metrics_figure(rows, ["loss/policy"], title), key=f"lesson_{key}_loss")
        right.plotly_chart(metrics_figure(rows, ["reward/gold_mean"], "Gold of the probe headlines"), key=f"lesson_{key}_gold")
    elif key in ("reward", "hack_reward", "rival_reward"):
        summary = info.summary or {}
        cols = st.columns(2)
        cols[0].metric("Rank correlation with unseen ratings", _fmt(summary.get("eval/spearman")))
        cols[1].metric("Picks the preferred headline", _fmt(summary.get("eval/pairwise_accuracy"), pct=True))
    elif key == "grpo":
        left, right = st.columns(2)
        left.plotly_chart(metrics_figure(rows, ["reward/mean", "reward/gold_mean"], "Reward: proxy vs gold"), key=f"lesson_{key}_r")
        right.plotly_chart(metrics_figure(rows, ["policy/kl_k3"], "KL to the SFT model (k3)"), key=f"lesson_{key}_kl")
    elif key in ("hacking", "personas"):
        keys = ["reward/mean", "reward/gold_mean"] if key == "hacking" else ["reward/gold_mean"]
        st.plotly_chart(runs_metrics_figure(metrics, keys, "Proxy (solid) and gold (dotted) reward" if key == "hacking"
                                            else "Gold under its own editor"), key=f"lesson_{key}_runs")
        if key == "hacking":
            verdicts(metrics)
            overrated(runner, run_ids[0])


def verdicts(metrics: dict[str, list[dict]]) -> None:
    """The hacking part's reading of each curve: 10-step means at the start, gold's best and the end (hacked: proxy
    up while gold ends 0.1 or more below its best; held: gold ends at or above where it started)."""
    table = []
    for name, rows in metrics.items():
        c = curve_summary(rows)
        if "gold_first" in c:
            table.append({"run": name, "proxy first → last": f"{c['proxy_first']:.2f} → {c['proxy_last']:.2f}",
                          "gold first → best → last": f"{c['gold_first']:.2f} → {c['gold_best']:.2f} → {c['gold_last']:.2f}",
                          "KL at the end": round(c.get("kl_last", float("nan")), 2),
                          "reward hacked?": "yes" if c["hacked"] else "no",
                          "gold held?": "yes" if c["held"] else "no"})
    if table:
        st.dataframe(pd.DataFrame(table), hide_index=True)


def overrated(runner, run_id: str, limit: int = 8) -> None:
    """The headlines the reward model over-rates most, newest first: what fools it."""
    rows = [s for s in runner.read_samples(run_id) if s.get("source") == "rollout"]
    if rows:
        st.markdown("**Headlines that fool the reward model** (beta = 0; the sample each step that the reward model "
                    "rates most above the editor's gold score; newest first)")
        frame = pd.DataFrame(rows[::-1][:limit])[["step", "reward", "gold", "headline"]]
        st.dataframe(frame, hide_index=True)


def before_after_table(result: dict) -> None:
    """Held-out gold before / after with its interval, and the probe articles headline by headline."""
    gain = result["gold_gain"]
    cols = st.columns(3)
    cols[0].metric("Gold, SFT", _fmt(result["gold_before"]))
    cols[1].metric("Gold, after GRPO", _fmt(result["gold_after"]), delta=f"{gain['gain']:+.3f}")
    cols[2].metric("Reward, SFT → GRPO", f"{result['reward_before']:.2f} → {result['reward_after']:.2f}")
    verdict = "above zero: RL helped on articles it never saw" if gain["ci_low"] > 0 else "includes zero: not a sure gain"
    held = result["articles"] - result.get("fresh", 0)
    st.markdown(f"Paired gain over {result['articles']} held-out articles ({held} from the newsroom's held-out fifth, "
                f"{result.get('fresh', 0)} fresh ones; none ever trained on): **{gain['gain']:+.3f}** "
                f"(95% interval {gain['ci_low']:+.3f} .. {gain['ci_high']:+.3f}, {verdict}); "
                f"better on {gain['better']}, worse on {gain['worse']} articles.")
    table = pd.DataFrame(result["table"])
    table = pd.DataFrame({
        "article": table["article"].str.slice(0, 90) + "…",
        "SFT headline": table["before"], "SFT gold": table["before_gold"].round(2),
        "GRPO headline": table["after"], "GRPO gold": table["after_gold"].round(2),
        "reward SFT → GRPO": [f"{b:.2f} → {a:.2f}" for b, a in zip(table["before_reward"], table["after_reward"])],
    })
    st.dataframe(table, hide_index=True, column_config={
        "article": st.column_config.TextColumn(width=100),  # pixels: all six columns fit a projector's 1400 px window
        "SFT headline": st.column_config.TextColumn(width=285), "GRPO headline": st.column_config.TextColumn(width=285),
        "SFT gold": st.column_config.NumberColumn(width=75), "GRPO gold": st.column_config.NumberColumn(width=80),
        "reward SFT → GRPO": st.column_config.TextColumn(width=125)})


def personas_grid(result: dict) -> None:
    """The 2 x 2 table (rows: aligned to, columns: judged by) and the two policies' headlines side by side."""
    names = result["personas"]  # the lesson's editor first (JSON files keep keys sorted)
    grid = pd.DataFrame(result["grid"]).T.loc[names, names].round(3)
    grid.index = [f"aligned to {name}" for name in grid.index]
    grid.columns = [f"judged by {name}" for name in grid.columns]
    st.dataframe(grid)
    wins = ", ".join(f"{name}: {'wins' if won else 'does not win'} under its own editor" for name, won in result["wins"].items())
    st.caption(wins)
    side = pd.DataFrame(result["headlines"])
    side = side[["article", *names]]
    side["article"] = side["article"].str.slice(0, 120) + "…"
    headline = st.column_config.TextColumn(width=300)  # both headline columns fit a 1400 px window beside the article
    st.dataframe(side.rename(columns={c: f"aligned to {c}" for c in side.columns if c != "article"}), hide_index=True,
                 column_config={"article": st.column_config.TextColumn(width=320),
                                **{f"aligned to {name}": headline for name in names}})


def _fmt(value, pct: bool = False) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    return f"{value:.0%}" if pct else f"{value:.3f}"
