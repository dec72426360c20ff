"""The Policy page's own panels: best-of-n's demo and the reward-hacking recipe for a class."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from rlhf_core.errors import StudioError
from ui.widgets import md_escape

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
        st.error(md_escape(exc))
        return
    for col, (label, key) in zip(st.columns(len(SHOWN)), SHOWN):
        col.metric(label, "-" if stats.get(key) is None else f"{stats[key]:.3f}")
    st.caption("If the pick's reward rises but its gold score does not, the reward model is being over-optimised (Gao et al. 2023).")
    st.text(results[0]["article"][:500])
    st.dataframe(pd.DataFrame(results[0]["candidates"]), hide_index=True)


def hacking_recipe() -> None:
    with st.expander("Recipe: show reward hacking in class", icon=":material/science:"):
        st.markdown("1. **Data** → *Synthetic newsroom*: 400 articles, seed 7 (the sample data's), leave out the styles "
                    "`truncated` and `repetitive`, generate.\n"
                    "2. **Reward model**: quick mode on that `train_ratings` + `train_preferences` (seconds). This reward "
                    "model has never seen a broken headline: its blind spot.\n"
                    "3. **Here**: GRPO on `tiny` with it, learning rate 3e-4, 300 steps, on that data's `train_ratings` "
                    "articles (a small prompt set, over-fitted fast), 8 prompts per step and temperature 0.7 (*More "
                    "hyper-parameters*), once with β = 0 and once with β = 0.3.\n"
                    "4. *Compare runs side by side* below: with β = 0 the proxy reward keeps climbing while the gold score "
                    "peaks and collapses (the probe headlines shrink to fragments such as `$` or `6,7`); with β = 0.3 both "
                    "rise. Runs vary from seed to seed (bench/bench_tiny_loop.py measures it).")
