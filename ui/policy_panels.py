"""The Policy page's own panel: best-of-n's demo on a few articles."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from rlhf_core.errors import StudioError
from ui.widgets import show_error

SHOWN = (("Reward of the pick", "reward/best_mean"), ("Reward, all samples", "reward/mean"),
         ("Gold of the pick", "reward/gold_best_mean"), ("Gold, all samples", "reward/gold_mean"))


def best_of_n_panel(spec: str, reward_dir: str | None, data_name: str, cfg) -> None:
    """Best-of-n on a few articles of the data: what picking the reward model's favourite buys, in proxy and gold."""
    from rlhf_core.policy.launch import try_best_of_n
    from ui.services import policy

    try:
        with st.spinner(f"Sampling {cfg.n} headlines for each of {cfg.articles} articles..."):
            results, stats = try_best_of_n(policy(spec), reward_dir, data_name, cfg)
    except StudioError as exc:
        show_error(exc)
        return
    for col, (label, key) in zip(st.columns(len(SHOWN)), SHOWN):
        col.metric(label, "-" if stats.get(key) is None else f"{stats[key]:.3f}")
    st.caption("If the pick's reward rises but its gold score does not, the reward model is being over-optimised (Gao et al. 2023).")
    st.text(results[0]["article"][:500])
    st.dataframe(pd.DataFrame(results[0]["candidates"]), hide_index=True)

