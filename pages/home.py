"""Home: what RLHF is, the loop this studio runs, what the seed article got wrong, the next step."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from rlhf_core.lesson import plan as lesson_plan
from ui.mode import owner_only
from ui.services import job_runner, offline_status
from ui.sidebar import page_exists, pipeline_state
from ui.widgets import ACTIVE, guarded, job_panel, list_runs, run_status

SEED_FIXES = pd.DataFrame(
    [
        ("Scores 1-5 regressed against sigmoid(logit) in [0, 1]", "Scores are normalised to [0, 1] on load; the original is kept"),
        ("'RL' loss -mean(sigmoid(human_scores)) has no gradient to the policy", "Real policy gradients (PPO, GRPO) or DPO, with a KL tie to the SFT model"),
        ("generate(temperature=...) without do_sample: always greedy", "Sampling with do_sample, temperature and top-p; Compare shows the effect"),
        ("The reward model scores the headline alone", "It scores the (article, headline) pair; truncation keeps the headline whole"),
        ("Reward = stored score of the reference title", "A learned reward model scores what the policy actually writes"),
        ("A BERT tokenizer feeds GPT-2; spearmanr from sklearn", "Each model uses its own tokenizer; metrics from scipy / scikit-learn"),
    ],
    columns=["The seed article", "RLHF Studio"],
)

DIAGRAM = """
digraph G {{
  rankdir=LR; bgcolor="transparent";
  node [shape=box, style="rounded,filled", fontname="sans-serif", fontsize=12];
  data   [label="1. Data\\nrated headlines", fillcolor="{data}"];
  reward [label="2. Reward model\\nlearns the ratings", fillcolor="{reward}"];
  policy [label="3. Policy (RLHF)\\nPPO / GRPO / DPO", fillcolor="{policy}"];
  rate   [label="4. Compare / Rate\\nnew human feedback", fillcolor="{rate}"];
  data -> reward -> policy -> rate;
  rate -> reward [label="  new ratings", style=dashed, constraint=false];
}}
"""
DONE, PENDING = "#c8e6c9", "#eeeeee"


@st.fragment(run_every=1.0)
def prepare_panel(run_id: str) -> None:
    def draw(metrics: list[dict], info) -> None:
        if run_status(info) not in ACTIVE:
            offline_status.clear()
            st.rerun()  # done: one full rerun redraws the model status

    job_panel("Preparing models", run_id, draw)


# --- state ---
owner_only()  # in rater mode a URL such as /home must not open the owner's pages
ps = pipeline_state()
status = offline_status()
from rlhf_core.models.prepare import PREPARABLE, is_prepared  # noqa: E402 - cheap, no torch

unprepared = [name for name in PREPARABLE if not is_prepared(name) and (name == "tiny" or status.get("smollm2"))]
preparing = [info for info in list_runs("prepare") if run_status(info) in ACTIVE]

# --- render ---
st.title("RLHF Studio")
st.markdown(
    """
**Reinforcement learning from human feedback** teaches a language model what people prefer:
1. people rate or compare a model's outputs (here: headlines written for news articles);
2. a **reward model** learns to predict those ratings for any new headline;
3. the **policy** (the headline writer) is fine-tuned to earn a high reward, while a **KL penalty** keeps it close to where it started;
4. too little KL and it learns to fool the reward model (*reward hacking*), which this studio lets you watch happen;
5. fresh ratings of the new headlines flow back into the reward model, and the loop starts again.
"""
)
st.graphviz_chart(
    DIAGRAM.format(
        data=DONE if ps.datasets else PENDING,
        reward=DONE if ps.reward_models else PENDING,
        policy=DONE if ps.policies else PENDING,
        rate=PENDING,
    )
)

with st.container(border=True, key="home_lesson"):
    st.subheader(":material/school: Class lesson: RLHF in three minutes")
    lesson = lesson_plan.load_state()
    st.markdown("One click runs the whole loop on the `tiny` model: SFT on an editor's best headlines → a reward model of "
                "the editor's stars → GRPO → the same articles before and after, each stage with its live chart and a "
                "pause for discussion. Then reward hacking and *whose values?*")
    if lesson is None:
        if st.button("Start the class lesson", type="primary", icon=":material/play_arrow:", key="home_start_lesson"):
            from rlhf_core.lesson.config import LessonConfig

            lesson_plan.advance(job_runner(), lesson_plan.start(LessonConfig()), "newsroom")
            st.switch_page("pages/lesson.py")
    else:
        st.page_link("pages/lesson.py", label="Continue the class lesson", icon=":material/arrow_forward:")

left, right = st.columns([3, 2])
with left:
    st.subheader("Quick start")
    todo, page, title = ps.next_step
    st.markdown(f"**Next step:** {todo}")
    if page_exists(page):
        st.page_link(page, label=f"Open {title}", icon=":material/arrow_forward:")
    st.caption(
        "The whole loop on the `tiny` preset takes a few minutes on a laptop CPU: "
        "Data → Load sample data, Reward model → Start (quick mode), Policy → GRPO → Start."
    )
with right:
    st.subheader("Models on this machine")
    for row in status.get("rows", []):
        icon = ":material/check_circle:" if row["ready"].startswith("yes") else ":material/cancel:"
        st.markdown(f"{icon} **{row['model']}** ({row['role']}): {row['ready']}")
    if status.get("hint"):
        st.info(status["hint"])
    if preparing:
        prepare_panel(preparing[0].id)
    elif unprepared:
        st.caption(f"Not built yet: {', '.join(unprepared)}. Build them once now so a class never waits for them "
                   "later; training and Compare would otherwise build them on first use.")
        if st.button("Prepare offline models", icon=":material/download:", key="prepare_models"):
            from rlhf_core.models.prepare import prepare_models

            with guarded("Not started"):  # one Prepare at a time (another session may have started one)
                job_runner().submit("prepare", {"presets": unprepared}, lambda run_dir: prepare_models(tuple(unprepared)),
                                    name="prepare models", exclusive="prepare")
                st.rerun()

st.subheader("What the seed article got wrong, and what the studio does instead")
st.table(SEED_FIXES)
