"""Training runs on a page: the live panel, a run's charts, the past-runs table and "compare runs side by side".

The Reward and Policy pages draw their runs with these; the charts are declared as (title, metric keys)
(ui.charts.REWARD_CHARTS / POLICY_CHARTS) and captioned from the metrics glossary. Comparing runs draws
one chart per metric key, so two runs are only overlaid where they log the same quantity (a k1 KL and a
k3 KL never share an axis).
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd
import streamlit as st

from rlhf_core.metrics import describe
from ui.charts import compare_runs_figure, has_any, metrics_figure
from ui.services import job_runner
from ui.widgets import ACTIVE, job_panel, run_get


def run_charts(metrics: list[dict], charts: Sequence[tuple[str, tuple[str, ...]]], key: str, per_row: int = 3) -> None:
    """The charts this run has data for, `per_row` a row, each captioned from the glossary."""
    shown = [(title, keys) for title, keys in charts if has_any(metrics, keys)]
    for row in range(0, len(shown), per_row):
        for col, (title, keys) in zip(st.columns(per_row), shown[row:row + per_row]):
            col.plotly_chart(metrics_figure(metrics, keys, title), key=f"{key}_chart_{title}")
            col.caption(" ".join(describe(k) for k in keys if describe(k)))


def probe_table(run_id: str) -> None:
    """The probe headlines a policy run wrote every few steps (greedy, fixed held-out articles), newest first."""
    samples = [s for s in job_runner().read_samples(run_id) if s.get("source") != "rollout"]
    if samples:
        st.markdown("**Probe headlines** (greedy, fixed held-out articles; newest step first)")
        table = pd.DataFrame(samples)
        order = [c for c in ("step", "reward", "gold", "headline", "article") if c in table]
        st.dataframe(table.iloc[::-1][order].head(40), hide_index=True, height=260)


def run_results(run_id: str, charts, key: str, probes: bool = False) -> None:
    """A run's charts (and its probe headlines) from its files on disk."""
    run_charts(job_runner().read_metrics(run_id), charts, key)
    if probes:
        probe_table(run_id)


@st.fragment(run_every=1.0)
def live_run(title: str, run_id: str, charts, key: str, probes: bool = False, waiting: str = "") -> None:
    """Progress, cancel and live charts of a running job, redrawn every second; one full rerun when it ends."""
    def draw(metrics: list[dict], info) -> None:
        if run_get(info, "status") not in ACTIVE:
            st.rerun()  # the run ended: one full rerun swaps this panel for the results
        if not metrics and waiting:
            st.caption(waiting)
        run_charts(metrics, charts, key)
        if probes:
            probe_table(run_id)

    job_panel(title, run_id, draw)


def past_runs(runs: list, columns: dict[str, callable]) -> None:
    """The table of past runs: one row per run, `columns` = {column title: function of (RunInfo, its metrics)}."""
    runner = job_runner()
    rows = []
    for info in runs:
        metrics = runner.read_metrics(info.id)
        rows.append({"run": info.id, "name": info.name, "status": info.status,
                     **{title: value(info, metrics) for title, value in columns.items()}, "error": info.error})
    st.dataframe(pd.DataFrame(rows), hide_index=True)


def compare_runs(runs: list, key: str, charts: Sequence[tuple[str, str]]) -> None:
    """"Compare runs side by side": a chart per metric key in `charts` ((key, title)), one line per picked run.

    The choice is keyed by the newest run, so a new run resets it to the two newest runs.
    """
    picked = st.multiselect("Compare runs side by side", [r.id for r in runs], default=[r.id for r in runs[:2]],
                            key=f"{key}-{runs[0].id}")
    if not picked:
        return
    names = {r.id: f"{r.name} · {r.id[-4:]}" if r.name else r.id for r in runs}  # the legend says what differs
    curves = {names.get(rid, rid): job_runner().read_metrics(rid) for rid in picked}
    shown = [(metric, title) for metric, title in charts if any(has_any(rows, (metric,)) for rows in curves.values())]
    for row in range(0, len(shown), 3):
        for col, (metric, title) in zip(st.columns(3), shown[row:row + 3]):
            col.plotly_chart(compare_runs_figure(curves, metric, title), key=f"{key}_cmp_{metric}")
