"""The evaluation's Plotly figures, drawn from a results dict: the Evaluate page and report.html show the same ones.

They live in rlhf_core (not ui/charts.py) because the CLI writes the report without Streamlit.
Labels that came from users (policy names, folders) are HTML-escaped: Plotly reads a few HTML tags
in text. Plotly is imported lazily.
"""

from __future__ import annotations

import html

import numpy as np

from rlhf_core.evaluation import overoptimisation as oo

PALETTE = ("#1f6fd1", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#9c755f", "#bab0ac")
SCORES = (("rouge1", "ROUGE-1"), ("rouge2", "ROUGE-2"), ("rougeL", "ROUGE-L"), ("gold_mean", "gold (persona)"),
          ("reward_mean", "reward model"), ("human_01", "people (stars, 0-1)"))
JUDGES = (("reward", "reward model"), ("gold", "gold persona"), ("human", "people (A/B votes)"))


def _go():
    import plotly.graph_objects as go

    return go


def _layout(fig, title: str, height: int = 340, top: int = 40, below_px: int = 30):
    """Title on top, legend under the plot, `below_px` pixels below it (clear of the tick labels)."""
    plot_px = max(60, height - top - 10)
    fig.update_layout(title={"text": title, "font": {"size": 14}}, height=height,
                      margin={"l": 10, "r": 10, "t": top, "b": 10},
                      legend={"orientation": "h", "yanchor": "top", "y": -below_px / plot_px, "x": 0, "xanchor": "left"})
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)  # long policy names on the y axis get their room
    return fig


def scores_figure(results: dict):
    """Grouped horizontal bars: every score in [0, 1] per policy (people's stars mapped 1..5 -> 0..1)."""
    go = _go()
    fig = go.Figure()
    names = [html.escape(r["policy"]) for r in results["policies"]]
    for i, (key, label) in enumerate(SCORES):
        values = [r.get(key) if key != "human_01" else (None if r["human_stars_mean"] is None else (r["human_stars_mean"] - 1) / 4)
                  for r in results["policies"]]
        if any(v is not None for v in values):
            fig.add_trace(go.Bar(y=names, x=values, name=label, orientation="h", marker_color=PALETTE[i % len(PALETTE)]))
    fig.update_layout(barmode="group")
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(autorange="reversed")  # the baseline (first) on top
    return _layout(fig, "Scores in [0, 1], higher is better", height=150 + 18 * len(names) * max(1, len(fig.data)))


def win_rate_figure(results: dict):
    """Each policy's win rate over the baseline per judge, with its 95% interval; 0.5 = no difference."""
    go = _go()
    fig = go.Figure()
    rows = [r for r in results["policies"] if not r["baseline"]]
    for i, (judge, label) in enumerate(JUDGES):
        shown = [r for r in rows if r.get(f"win_rate_{judge}") is not None]
        if not shown:
            continue
        rate = np.array([r[f"win_rate_{judge}"] for r in shown])
        fig.add_trace(go.Scatter(
            x=rate, y=[html.escape(r["policy"]) for r in shown], mode="markers", name=label,
            marker={"size": 11, "color": PALETTE[i]},
            error_x={"type": "data", "symmetric": False, "array": [r[f"win_rate_{judge}_high"] for r in shown] - rate,
                     "arrayminus": rate - [r[f"win_rate_{judge}_low"] for r in shown]},
        ))
    fig.add_vline(x=0.5, line_dash="dash", line_color="grey")
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(scattermode="group")
    return _layout(fig, f"Win rate against {html.escape(results['baseline'])}<br><sup>ties count half · 95% paired bootstrap "
                        "intervals · 0.5 = no difference</sup>", height=180 + 60 * max(1, len(rows)), top=60)


def leaderboard_figure(results: dict):
    """People's Bradley-Terry scores (Elo scale) with bootstrap intervals, best on top."""
    go = _go()
    board = list(reversed(results["leaderboard"]))
    elo = np.array([r["elo"] for r in board], dtype=float)
    fig = go.Figure(go.Scatter(
        x=elo, y=[html.escape(r["policy"]) for r in board], mode="markers", marker={"size": 11, "color": PALETTE[0]},
        error_x={"type": "data", "symmetric": False, "array": np.array([r["elo_high"] for r in board]) - elo,
                 "arrayminus": elo - np.array([r["elo_low"] for r in board])}, name="Elo",
    ))
    return _layout(fig, "People's leaderboard: Bradley-Terry scores from A/B votes<br><sup>Elo scale (+400 = 10:1 odds) · "
                        "95% bootstrap intervals over votes</sup>", height=180 + 50 * max(1, len(board)), top=60)


def curve_figure(curve: dict):
    """Gold and proxy reward against sqrt(KL): RL checkpoints and best-of-n, Gao et al.'s fits, the peaks d*."""
    go = _go()
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("Gold reward (the persona: what we want)",
                                                        "Proxy reward (the reward model: what is optimised)"))
    families = (("rl", "RL checkpoints", PALETTE[0], oo.rl_form, "step"), ("bon", "best-of-n", PALETTE[1], oo.bon_form, "n"))
    for col, value in ((1, "gold"), (2, "proxy")):
        for family, label, color, form, tag in families:
            points = [p for p in curve.get(family) or [] if p[value] is not None]
            if not points:
                continue
            names = [f"{tag} {p[tag]}" for p in points]
            every = max(1, -(-len(points) // 10))  # label about 10 points; hovering shows every one
            fig.add_trace(go.Scatter(
                x=[p["sqrt_kl"] for p in points], y=[p[value] for p in points], mode="markers+text", name=label,
                text=[n if i % every == 0 or i == len(points) - 1 else "" for i, n in enumerate(names)], hovertext=names,
                textposition="top center", textfont={"size": 9}, marker={"color": color, "size": 9}, legendgroup=family,
                showlegend=col == 1), row=1, col=col)
            fit = (curve.get(f"{family}_fit") or {}).get(value)
            if fit is None:
                continue
            reach = max(p["sqrt_kl"] for p in points)
            peak = fit["peak_d"] if fit["peak_d"] is not None and fit["peak_d"] <= 1.5 * reach else None  # far peaks: table only
            d = np.linspace(0.0, max(reach, peak or 0.0) * 1.1, 80)
            fig.add_trace(go.Scatter(
                x=d, y=fit["start"] + form(d, fit["alpha"], fit["beta"]), mode="lines", legendgroup=family,
                name=f"{label}: fit d(α - β {'log d' if family == 'rl' else 'd'})", showlegend=col == 1,
                line={"color": color, "dash": "dot"}), row=1, col=col)
            if peak is not None:
                fig.add_trace(go.Scatter(
                    x=[peak], y=[fit["peak_value"]], mode="markers", legendgroup=family, showlegend=False,
                    name=f"{label}: peak d* = {fit['peak_d']:.2f}", marker={"symbol": "star", "size": 16, "color": color},
                    hovertemplate="peak d* = %{x:.2f}, %{y:.3f}<extra></extra>"), row=1, col=col)
    fig.update_xaxes(title_text="d = sqrt(KL to the start), sqrt(nats)")
    return _layout(fig, f"Over-optimisation: {html.escape(curve['run'])} from {html.escape(curve['start'])}", height=460, top=80,
                   below_px=60)  # under the x-axis titles
