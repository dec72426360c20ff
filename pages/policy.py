"""Policy (RLHF): fine-tune the headline writer with any algorithm of the registry, live; or try best-of-n.

Inputs (algorithm, policy, reward model, data, its config form), title, act (start), render (its loss,
the live run or a finished one, past runs side by side). Every algorithm comes from
rlhf_core.policy.algorithms; training runs in rlhf_core's JobRunner thread; this page only reads its files.
"""

from __future__ import annotations

from dataclasses import fields

import streamlit as st

from rlhf_core.errors import StudioError
from rlhf_core.policy.algorithms import ALGORITHMS, TRAINABLE, make_config, preset_of, start_note
from rlhf_core.policy.launch import collected_feedback, submit_training
from ui import state
from ui.charts import POLICY_CHARTS, POLICY_COMPARE
from ui.config_form import config_form
from ui.mode import owner_only
from ui.pickers import dataset_picker, persona_picker, policy_picker, reward_picker
from ui.policy_panels import best_of_n_panel
from ui.runs import compare_runs, live_run, past_runs, run_results
from ui.services import job_runner, ratings_store
from ui.trl_import import import_trl_expander
from ui.widgets import ACTIVE, last_metric, list_runs, page_link, pick_run, show_error

UP_FRONT = ("steps", "beta", "lr", "lora_r", "n", "temperature")  # lora_r: 0 = full fine-tuning, > 0 = LoRA of that rank
HIDDEN = ("gold_persona", "resume_from")
WAITING = ("Loading the policy, its frozen reference and the reward model. The tiny preset is pre-trained once on first "
           "use (a few minutes on a laptop CPU) and cached after that.")
COLLECTED = {"votes": "A/B votes", "ratings": "star ratings"}

# --- inputs ---
owner_only()
runner = job_runner()
active = next((r for r in (runner.active_run(k) for k in TRAINABLE) if r is not None), None)
by_title = {a.title: a for a in ALGORITHMS.values()}

st.title("Policy (RLHF)")
st.caption("The policy is the headline writer. SFT teaches it the task; the algorithms that sample headlines chase "
           "the reward model's score while a KL penalty (beta) ties them to the reference; the others learn from "
           "people's judgements (pairs, stars) directly.")
settings, main = st.columns([1, 2], gap="large")
with settings, st.container(border=True):
    algorithm = by_title[st.radio("Algorithm", list(by_title), horizontal=True, key=state.POLICY_ALGO,
                                  index=list(ALGORITHMS).index("grpo"))]
    algo, cls = algorithm.name, algorithm.config
    spec, start_label = policy_picker(TRAINABLE, state.POLICY_SPEC, state.POLICY_DIR)
    papers = st.toggle("Papers' defaults", key=state.POLICY_PAPER_DEFAULTS,
                       help="The papers' settings (e.g. lr 1e-5) are made for billion-parameter models and barely move "
                            "the offline presets. Off: the settings measured to learn visibly on the chosen preset.")
    preset = preset_of(spec)
    if note := start_note(algo, spec):
        st.info(note, icon=":material/school:")
    reward_dir = reward_picker(state.POLICY_REWARD, algorithm.needs_reward_model,
                               "The algorithms that sample headlines (and best-of-n) maximise this reward model's score.")
    data_name = dataset_picker(algorithm.data_kinds, algorithm.default_data, f"{state.POLICY_DATA}_{algo}",
                               algorithm.data_help)
    use_collected = False
    if algorithm.collected:
        collected = collected_feedback(ratings_store(), algorithm.collected)
        use_collected = st.checkbox(f"Add {COLLECTED[algorithm.collected]} collected on the Rate page ({len(collected)})",
                                    key=state.POLICY_USE_VOTES, disabled=collected.empty,
                                    help="Votes: the majority per pair (ties left out). Stars: the mean per headline.")
    defaults = make_config(algo, spec, paper_defaults=papers)
    names = [f.name for f in fields(cls) if f.name not in HIDDEN]
    # keyed by algorithm and whose defaults (the preset's or the papers'): switching either shows its own values
    prefix = f"{state.POLICY_PARAM_PREFIX}{algo}_{('paper' if papers else preset) or 'paper'}_"
    params = config_form(cls, defaults, [n for n in UP_FRONT if n in names], prefix)
    if preset and not papers:
        st.caption(f"Settings that learn visibly on `{preset}`; the papers' values are one switch away.")
    with st.expander("More hyper-parameters"):
        params |= config_form(cls, defaults, [n for n in names if n not in UP_FRONT], prefix)
        params["gold_persona"] = persona_picker("Gold persona (logged, never trained on)",
                                                f"{state.POLICY_PARAM_PREFIX}{algo}_persona", [data_name] if data_name else [])
    ready = spec and data_name and (reward_dir or not algorithm.needs_reward_model)
    start = st.button("Start training" if algorithm.trains else f"Try {algorithm.title} on a few articles",
                      key="policy_start" if algorithm.trains else "policy_bon", type="primary", icon=":material/play_arrow:",
                      disabled=not ready or (algorithm.trains and active is not None),
                      help="One training job runs at a time." if active and algorithm.trains else None)
    import_trl_expander("policy", state.POLICY_RUN)  # a bundle trained on a cluster comes back as a run

# --- act (best-of-n's demo is drawn below, in the main column) ---
if start and ready and algorithm.trains:
    try:
        cfg = make_config(algo, spec, paper_defaults=True, **params)
        collected = collected_feedback(ratings_store(), algorithm.collected) if use_collected else None
        st.session_state[state.POLICY_RUN] = submit_training(runner, algo, cfg, spec, start_label, reward_dir, data_name,
                                                             collected)
    except (StudioError, TypeError, ValueError) as exc:
        show_error(exc)
    else:
        st.rerun()

# --- render ---
with main:
    st.markdown(f"**{algorithm.title}.** {algorithm.description}")
    for equation in algorithm.loss:
        st.latex(equation)
    if start and ready and not algorithm.trains:
        best_of_n_panel(spec, reward_dir, data_name, make_config(algo, spec, paper_defaults=True, **params))
    if active is not None:
        live_run("Policy training", active.id, POLICY_CHARTS, "policy", probes=True, waiting=WAITING)
    elif algorithm.trains:
        done = [r for r in list_runs() if r.kind in TRAINABLE and r.status not in ACTIVE]
        if not done:
            st.info("No policy run yet. With the tiny preset and a reward model, **GRPO** shows the reward rising within "
                    "a minute; to watch reward hacking (proxy up, gold down), open the class lesson's part 2 (link below).")
        else:
            chosen = pick_run(done, state.POLICY_RUN)
            if chosen.status == "failed":
                show_error(chosen.error or "see its folder", "The run failed")
            run_results(chosen.id, POLICY_CHARTS, "policy", probes=True)

page_link("pages/lesson.py", "Reward hacking in one click: Class lesson, part 2 (beta = 0 next to a sensible beta, "
          "from the same start)", ":material/science:")
runs = [r for r in list_runs() if r.kind in TRAINABLE]
if runs:
    st.subheader("Past runs")
    past_runs(runs, {"policy": lambda r, m: r.config.get("policy"), "data": lambda r, m: r.config.get("data"),
                     "beta": lambda r, m: r.config.get("beta"), "steps": lambda r, m: r.step,
                     "last proxy reward": lambda r, m: last_metric(m, "reward/mean"),
                     "last gold": lambda r, m: last_metric(m, "reward/gold_mean")})
    compare_runs(runs, state.POLICY_COMPARE, POLICY_COMPARE)
