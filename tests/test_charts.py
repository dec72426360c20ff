"""Chart builders: a long noisy RL metric gets a moving average over its faint raw line."""

from __future__ import annotations

import pytest

from ui.charts import SMOOTH_FROM, compare_runs_figure, metrics_figure, moving_average


def test_moving_average_is_a_trailing_mean():
    assert moving_average([1, 3, 5, 7], 2) == pytest.approx([1, 2, 4, 6])


def test_short_series_are_plain_lines_and_long_ones_get_a_trend():
    short = [{"step": i, "reward/mean": float(i % 2)} for i in range(5)]
    assert [t.name for t in metrics_figure(short, ["reward/mean"], "r").data] == ["proxy reward (reward model)"]
    noisy = [{"step": i, "reward/mean": float(i % 2), "reward/gold_mean": 0.5} for i in range(100)]
    fig = metrics_figure(noisy, ["reward/mean", "reward/gold_mean"], "r")
    assert len(fig.data) == 4 and [t.showlegend for t in fig.data] == [False, None, False, None]
    trend = fig.data[1]
    assert "5-step mean" in trend.hovertemplate and trend.line.color == fig.data[0].line.color
    assert max(trend.y[10:]) - min(trend.y[10:]) < 0.25  # the 0/1 zigzag averages out
    assert len(compare_runs_figure({"a": noisy, "b": noisy[:SMOOTH_FROM - 1]}, "reward/mean", "r").data) == 3


def test_a_constant_learning_rate_is_drawn_at_its_value_not_at_zero():
    rows = [{"step": s, "optim/lr": 0.01} for s in range(1, 6)]
    fig = metrics_figure(rows, ("optim/lr",), "Learning rate")
    low, high = fig.layout.yaxis.range
    assert low == 0.0 and high == pytest.approx(0.02)  # plotly's own range would be 0.01 +- 1
    varying = metrics_figure([{"step": 1, "optim/lr": 1e-4}, {"step": 2, "optim/lr": 2e-4}], ("optim/lr",), "lr")
    assert varying.layout.yaxis.range is None and varying.layout.yaxis.exponentformat == "e"
    schedule = [{"step": s, "optim/lr": min(s, 10) * 1e-5} for s in range(1, 101)]  # warm-up: no moving average lag
    assert [list(t.y) for t in metrics_figure(schedule, ("optim/lr",), "lr").data] == [[r["optim/lr"] for r in schedule]]
