"""Plotly figure builders. Input: plain rows (metrics dicts, DataFrames); output: a Figure.

Every training chart is drawn from the same metrics vocabulary (rlhf_core.metrics.GLOSSARY), so
`metrics_figure(rows, keys)` draws any of them: one line per key against `step`, skipping rows
where a key was not logged (validation metrics arrive only every few steps).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

# A chart is (title, metric keys drawn together). Pages pick from these.
REWARD_CHARTS: list[tuple[str, tuple[str, ...]]] = [
    ("Loss (train vs validation)", ("loss/train", "loss/val")),
    ("Validation Spearman", ("eval/spearman", "eval/pairwise_accuracy")),
    ("Learning rate", ("optim/lr",)),
]
POLICY_CHARTS: list[tuple[str, tuple[str, ...]]] = [
    ("Reward: proxy vs gold", ("reward/mean", "reward/gold_mean")),
    ("KL to the reference (k1, per headline)", ("policy/kl_k1",)),  # one KL estimator per chart
    ("KL to the reference (k3, per headline)", ("policy/kl_k3",)),  # GRPO
    ("Entropy", ("policy/entropy",)),
    ("Completion length (tokens)", ("completion/length",)),
    ("Losses", ("loss/policy", "loss/value")),
    ("Clip fraction", ("policy/clipfrac",)),
    ("DPO preference accuracy", ("dpo/accuracy",)),
    ("Implicit reward: chosen vs rejected", ("reward/chosen", "reward/rejected")),
]
# "Compare runs side by side": (metric key, title), one chart per key, so runs are only overlaid on the same quantity.
REWARD_COMPARE: list[tuple[str, str]] = [("eval/spearman", "Validation Spearman"), ("loss/val", "Validation loss")]
POLICY_COMPARE: list[tuple[str, str]] = [("reward/gold_mean", "Gold reward (persona)"), ("reward/mean", "Proxy reward"),
                                         ("policy/kl_k1", "KL to the reference (k1)"),
                                         ("policy/kl_k3", "KL to the reference (k3)")]
LABELS = {
    "loss/train": "train loss",
    "loss/val": "validation loss",
    "eval/spearman": "Spearman",
    "eval/pairwise_accuracy": "pairwise accuracy",
    "optim/lr": "learning rate",
    "reward/mean": "proxy reward (reward model)",
    "reward/gold_mean": "gold reward (persona)",
    "policy/kl_k1": "KL (k1)",
    "policy/kl_k3": "KL (k3)",
    "reward/chosen": "chosen / desirable",
    "reward/rejected": "rejected / undesirable",
    "policy/entropy": "entropy",
    "completion/length": "tokens",
    "loss/policy": "policy loss",
    "loss/value": "value loss",
    "policy/clipfrac": "clip fraction",
    "dpo/accuracy": "accuracy",
}


def _layout(fig: go.Figure, title: str, height: int = 260) -> go.Figure:
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        # legend under the plot: above it, it collides with the title in narrow columns
        legend={"orientation": "h", "yanchor": "top", "y": -0.3, "x": 0, "xanchor": "left"},
    )
    return fig


def series(rows: Sequence[dict], key: str) -> tuple[list, list]:
    """(steps, values) of one metric key, skipping rows where it is missing or not a number."""
    steps, values = [], []
    for row in rows:
        value = row.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
            steps.append(row.get("step", len(steps)))
            values.append(float(value))
    return steps, values


def has_any(rows: Sequence[dict], keys: Iterable[str]) -> bool:
    return any(series(rows, key)[1] for key in keys)


SMOOTH_FROM = 20  # points: longer series get a moving average over a faint raw line
EXACT = ("optim/lr",)  # schedules, not samples: a moving average would only shift their shape
PALETTE = ("#1f6fd1", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#9c755f", "#bab0ac")


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """Trailing mean over the last `window` values (fewer at the start): the trend of a noisy RL metric."""
    return pd.Series(values, dtype=float).rolling(window, min_periods=1).mean().tolist()


def _add_line(fig: go.Figure, steps: list, values: list, name: str, color: str, smooth: bool = True) -> None:
    """A metric as one line; from SMOOTH_FROM points on, a bold moving average over the faint raw values
    (one sampled batch per step is noisy: the trend is what shows reward rising or hacking)."""
    if len(values) < SMOOTH_FROM or not smooth:
        fig.add_trace(go.Scatter(x=steps, y=values, mode="lines+markers", name=name, line={"color": color}))
        return
    window = max(5, len(values) // 20)
    fig.add_trace(go.Scatter(x=steps, y=values, mode="lines", name=name, legendgroup=name, showlegend=False,
                             line={"color": color, "width": 1}, opacity=0.3, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=steps, y=moving_average(values, window), mode="lines", legendgroup=name,
                             name=name, line={"color": color, "width": 2.5},
                             hovertemplate=f"%{{y:.3f}} ({window}-step mean)"))


def metrics_figure(rows: Sequence[dict], keys: Sequence[str], title: str) -> go.Figure:
    """One line per metric key against the training step."""
    fig = go.Figure()
    for i, key in enumerate(keys):
        steps, values = series(rows, key)
        if values:
            _add_line(fig, steps, values, LABELS.get(key, key), PALETTE[i % len(PALETTE)], key not in EXACT)
    if "optim/lr" in keys:
        fig.update_yaxes(exponentformat="e")  # 2e-4, not plotly's SI '200µ'
    _frame_constant(fig)
    # x is the training step (said in the caption); no axis title, so the legend under the plot has room
    return _layout(fig, title)


def _frame_constant(fig: go.Figure) -> None:
    """A flat line (quick mode's constant learning rate) gets the y range [0, 2v], not plotly's v +- 1,
    where 0.01 would look like 0."""
    values = [y for trace in fig.data for y in (trace.y or ())]
    if values and min(values) == max(values) != 0:
        fig.update_yaxes(range=sorted([0.0, 2 * values[0]]))


def compare_runs_figure(runs: dict[str, Sequence[dict]], key: str, title: str) -> go.Figure:
    """The same metric for several runs (past runs side by side)."""
    fig = go.Figure()
    for i, (name, rows) in enumerate(runs.items()):
        steps, values = series(rows, key)
        if values:
            _add_line(fig, steps, values, name, PALETTE[i % len(PALETTE)])
    return _layout(fig, title)


DASHES = ("solid", "dot", "dash", "dashdot")


def runs_metrics_figure(runs: dict[str, Sequence[dict]], keys: Sequence[str], title: str) -> go.Figure:
    """Several metric keys of several runs on one chart: a colour per run, a line style per key
    (proxy solid, gold dotted: beta = 0 and a sensible beta side by side)."""
    fig = go.Figure()
    for i, (name, rows) in enumerate(runs.items()):
        for j, key in enumerate(keys):
            steps, values = series(rows, key)
            if values:
                before = len(fig.data)
                _add_line(fig, steps, values, f"{name}: {LABELS.get(key, key)}", PALETTE[i % len(PALETTE)])
                for trace in fig.data[before:]:
                    trace.line.dash = DASHES[j % len(DASHES)]
    return _layout(fig, title, height=340)


def histogram(values: Iterable[float], title: str, xlabel: str, nbins: int = 20) -> go.Figure:
    """A histogram; a bar per value when there are few distinct values (1-5 stars)."""
    values = pd.Series(list(values), dtype=float).dropna()
    if values.nunique() <= 11:
        counts = values.value_counts().sort_index()
        fig = go.Figure(go.Bar(x=[f"{v:g}" for v in counts.index], y=counts.to_numpy()))
    else:
        fig = go.Figure(go.Histogram(x=values, nbinsx=nbins))
    fig.update_xaxes(title_text=xlabel)
    fig.update_yaxes(title_text="rows")
    return _layout(fig, title)


def length_figure(lengths: dict[str, Iterable[int]], title: str = "Length (words)") -> go.Figure:
    """Overlaid histograms of text lengths, one per column (article, headline, chosen, ...)."""
    fig = go.Figure()
    for name, values in lengths.items():
        fig.add_trace(go.Histogram(x=list(values), name=name, opacity=0.7, nbinsx=30))
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title_text="words")
    fig.update_yaxes(title_text="rows")
    return _layout(fig, title)


def calibration_figure(table: pd.DataFrame) -> go.Figure:
    """Predicted vs actual score by bucket; the diagonal is perfect calibration.

    `table` has columns `predicted` and `actual` (means per bucket) and optionally `count`.
    """
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dash", "color": "grey"}))
    if len(table):
        sizes = (8 + 22 * (table["count"] / table["count"].max()) ** 0.5) if "count" in table else 10
        fig.add_trace(go.Scatter(
            x=table["predicted"], y=table["actual"], mode="markers", name="score bucket (size = rows)",
            marker={"size": sizes}, text=[f"{int(c)} rows" for c in table["count"]] if "count" in table else None,
        ))
    fig.update_xaxes(title_text="mean predicted reward", range=[0, 1])
    fig.update_yaxes(title_text="mean human score", range=[0, 1])
    return _layout(fig, "Calibration", height=300)


def bar_figure(frame: pd.DataFrame, x: str, metrics: Sequence[str], title: str) -> go.Figure:
    """Grouped bars: one group per row of `frame[x]`, one bar per metric column."""
    fig = go.Figure()
    for metric in metrics:
        if metric in frame:
            fig.add_trace(go.Bar(x=frame[x].astype(str), y=frame[metric], name=metric))
    fig.update_layout(barmode="group")
    return _layout(fig, title, height=340)


def temperature_figure(diversity: pd.DataFrame, metric: str) -> go.Figure:
    """Compare's two panels per policy: `metric` (mean reward, or gold) and distinct-2 against the temperature."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Reward (or gold) vs temperature",
                                                           "Diversity (distinct-2) vs temperature"))
    for label, cell in diversity.groupby("policy", sort=False):
        for col, key in ((1, metric), (2, "distinct_2")):
            figure.add_trace(go.Scatter(x=cell["temperature"], y=cell[key], mode="lines+markers", name=str(label),
                                        legendgroup=str(label), showlegend=col == 1), row=1, col=col)
    figure.update_layout(height=320, margin=dict(l=10, r=10, t=40, b=10))
    figure.update_xaxes(title_text="temperature")
    return figure
