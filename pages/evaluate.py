"""Evaluate: held-out articles, several policies, the seed's metrics and ours, side by side.

ROUGE-1/2/L against reference headlines (rouge-score, stemmer on, as in the seed), the hidden gold
persona's score (synthetic data), the reward model's score, and the average human rating collected
on the Rate page. Generated headlines are untrusted text: shown in dataframes only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from ui import state
from ui.charts import bar_figure
from ui.services import ratings_store, reward_dir_of
from ui.widgets import dataset_names, default_pick, finished_runs, guarded, owner_only, persona_of

NONE = "(none)"
ARTICLE_KINDS = ("articles", "ratings", "demonstrations", "preferences")
BAR_METRICS = ("ROUGE-1", "ROUGE-2", "ROUGE-L", "gold score", "reward score", "human (0-1)")


def evaluate_policy(label: str, bundle, articles: list[str], references: list[str], temperature: float, seed: int,
                    scorer, persona, human: pd.DataFrame) -> tuple[dict, list[str]]:
    """One row of the results table, and the headlines the policy wrote."""
    from rlhf_core.evaluation import distinct_n, mean_rouge
    from rlhf_core.models.generation import generate_headlines

    headlines = [samples[0] for samples in generate_headlines(bundle, articles, temperature=temperature, n=1, seed=seed)]
    with_ref = [(r, h) for r, h in zip(references, headlines) if str(r).strip()]
    rouge = mean_rouge([r for r, _ in with_ref], [h for _, h in with_ref]) if with_ref else {}
    stars = human.loc[human["source"] == label, "score"] if len(human) else pd.Series(dtype=float)
    row = {
        "policy": label,
        "ROUGE-1": rouge.get("rouge1"), "ROUGE-2": rouge.get("rouge2"), "ROUGE-L": rouge.get("rougeL"),
        "gold score": float(np.mean([persona.score(a, h) for a, h in zip(articles, headlines)])) if persona else None,
        "reward score": float(np.mean(scorer.score(articles, headlines))) if scorer is not None else None,
        "human rating (1-5)": float(stars.mean()) if len(stars) else None,
        "human ratings": int(len(stars)),
        "distinct-1": distinct_n(headlines, 1),
        "words": float(np.mean([len(h.split()) for h in headlines])),
    }
    row["human (0-1)"] = (row["human rating (1-5)"] - 1) / 4 if row["human rating (1-5)"] is not None else None
    return row, headlines


# --- inputs ---
owner_only()
from rlhf_core.compare import articles_of, policy_choices  # noqa: E402  (after the rater-mode guard)

choices = policy_choices()
data_options = dataset_names(ARTICLE_KINDS)
reward_runs = {f"run: {r.id}": d for r in finished_runs("reward") if (d := reward_dir_of(r))}

st.title("Evaluate")
st.caption("Held-out articles, one headline per policy (greedy by default): ROUGE against the reference headline "
           "(the seed's metric), the gold persona's score (what we really want), the reward model's score (the proxy the "
           "policy was trained on) and the average human rating from the Rate page.")
with st.container(border=True):
    left, middle, right = st.columns(3)
    policies = left.multiselect("Policies", list(choices), default=default_pick(list(choices), ("preset: tiny",)) +
                                [c for c in list(choices) if c.startswith("run: ")][:2], key=state.EVAL_POLICIES)
    data_name = middle.selectbox("Held-out articles", data_options or ["(no dataset: see the Data page)"],
                                 index=data_options.index(default_pick(data_options, ("sample-test_ratings",))[0]) if data_options else 0,
                                 key=state.EVAL_DATA, help="Use articles no policy was trained on (the test split). "
                                 "The reference is the dataset's own headline (for ratings: the best-rated one).")
    n_articles = right.number_input("Articles", 1, 500, 20, key=state.EVAL_N)
    left, middle, right = st.columns(3)
    reward_label = left.selectbox("Reward model", [*reward_runs, NONE], key=state.EVAL_REWARD)
    try:
        from rlhf_core.data.personas import PERSONAS

        personas = [NONE, *sorted(PERSONAS)]
    except ImportError:
        personas = [NONE]
    guess = persona_of([data_name]) or NONE
    persona_name = middle.selectbox("Gold persona", personas, index=personas.index(guess), key=state.EVAL_PERSONA)
    temperature = right.number_input("Temperature (0 = greedy)", 0.0, 2.0, 0.0, 0.1, key="eval_temperature")
    go = st.button("Evaluate", key="eval_go", type="primary", icon=":material/analytics:", disabled=not (policies and data_options))

# --- act ---
if go:
    from rlhf_core.data.personas import get_persona
    from ui.services import policy, reward_scorer
    from ui.widgets import load_tables

    with guarded("The evaluation stopped"):
        tables = {k: v for k, v in load_tables([data_name]).items() if k != "scale"}
        kind, frame = next(iter(tables.items()))
        held = articles_of(frame, kind).head(int(n_articles))
        scorer = reward_scorer(reward_runs[reward_label]) if reward_label != NONE else None
        persona = get_persona(persona_name) if persona_name != NONE else None
        human = ratings_store().ratings_frame()
        rows, written = [], pd.DataFrame({"article": held["article"], "reference": held["reference"]})
        progress = st.progress(0.0, text="Writing headlines...")
        for i, label in enumerate(policies):
            progress.progress(i / len(policies), text=f"{label}: writing {len(held)} headlines...")
            row, headlines = evaluate_policy(label, policy(choices[label]), held["article"].tolist(), held["reference"].tolist(),
                                             float(temperature), 0, scorer, persona, human)
            rows.append(row)
            written[label] = headlines
        progress.empty()
        st.session_state[state.EVAL_RESULT] = {"rows": rows, "headlines": written, "data": data_name}

# --- render ---
result = st.session_state.get(state.EVAL_RESULT)
if not result:
    st.info("Pick policies and held-out articles, then press **Evaluate**. Train an SFT or GRPO policy on the Policy page "
            "to see what RLHF changes compared with the starting point.")
else:
    table = pd.DataFrame(result["rows"])
    st.subheader(f"Results on {result['data']}")
    st.plotly_chart(bar_figure(table, "policy", [m for m in BAR_METRICS if table[m].notna().any()],
                               "Scores in [0, 1] (higher is better)"), key="eval_bars")
    st.dataframe(table.drop(columns=["human (0-1)"]), hide_index=True,
                 column_config={c: st.column_config.NumberColumn(format="%.3f") for c in BAR_METRICS[:5]})
    st.caption("ROUGE rewards copying the reference's words, not accuracy: a policy can beat the reference-free gold "
               "score and still lose on ROUGE. Human ratings count Rate-page stars given to this policy's headlines.")
    with st.expander("Headlines written"):
        st.dataframe(result["headlines"], hide_index=True)
