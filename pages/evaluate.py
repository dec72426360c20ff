"""Evaluate: did RLHF help? Metrics, win rates with intervals, the over-optimisation curve, one report.

Inputs (policies, held-out data, baseline, judges, curve run, settings), title, state (a running
evaluation job), render (its progress, or a finished evaluation's results), act (start the job).
The evaluation itself is rlhf_core.evaluation.run.evaluate, the same generator as the CLI's
`python -m rlhf_core evaluate`; it runs in the JobRunner's thread and writes its report to its
run folder. Renderers live in ui/evaluation.py.
"""

from __future__ import annotations

import streamlit as st

from rlhf_core.errors import StudioError
from ui import state
from ui.evaluation import NONE, OWN_START, live_panel, render_results, settings_form
from ui.mode import owner_only
from ui.services import job_runner, reward_dir_of
from ui.widgets import dataset_names, finished_runs, list_runs, md_escape, pick_run, show_error

ARTICLE_KINDS = ("articles", "ratings", "demonstrations", "preferences")

# --- inputs ---
owner_only()
from rlhf_core.compare import policy_choices  # noqa: E402  (after the rater-mode guard)
from rlhf_core.evaluation.policies import run_checkpoints  # noqa: E402

runner = job_runner()
active = runner.active_run("eval")
choices = policy_choices()
data_options = dataset_names(ARTICLE_KINDS)
reward_runs = {f"run: {r.id}": d for r in finished_runs("reward") if (d := reward_dir_of(r))}
curve_runs = {label: len(run_checkpoints(spec)) for label, spec in choices.items() if label.startswith("run: ")}
try:
    from rlhf_core.data.personas import PERSONAS

    personas = [NONE, *sorted(PERSONAS)]
except ImportError:
    personas = [NONE]

st.title("Evaluate")
st.caption("Did RLHF help? Each policy writes headlines for the same held-out articles; the reward model, the hidden gold "
           "persona and people (A/B votes on the Rate page) judge them against a baseline, with 95% bootstrap intervals. "
           "For one run, the over-optimisation curve shows gold and proxy reward against how far it moved from its start.")
with st.container(border=True):
    picked = settings_form(choices, data_options, reward_runs, personas, curve_runs)
    go = st.button("Evaluate", key="eval_go", type="primary", icon=":material/analytics:",
                   disabled=not (picked["policies"] and data_options) or active is not None,
                   help="One job runs at a time." if active else None)

# --- act ---
if go:
    from rlhf_core.evaluation.config import EvalConfig
    from rlhf_core.evaluation.run import evaluate, held_out_articles
    from ui.widgets import load_tables

    try:
        cfg = EvalConfig(articles=int(picked["articles"]), n=int(picked["n"]), temperature=float(picked["temperature"]),
                         seed=int(picked["seed"]))
        kind, frame = next((k, v) for k, v in load_tables([picked["data"]]).items() if k != "scale")
        table = held_out_articles(frame, kind, cfg.articles)
        specs = [choices[label] for label in picked["policies"]]
        baseline = None if picked["baseline"] == OWN_START else choices[picked["baseline"]]
        reward = reward_runs.get(picked["reward"])
        persona = None if picked["persona"] == NONE else picked["persona"]
        curve = None if picked["curve"] == NONE else picked["curve"]
        config = {"policies": picked["policies"], "data": picked["data"], "baseline": picked["baseline"], "reward": reward,
                  "persona": persona, "curve": curve, **cfg.to_dict()}
        run_id = runner.submit("eval", config, lambda out_dir: evaluate(
            cfg, specs, table, reward=reward, persona=persona, baseline=baseline, curve_run=curve,
            data={"name": picked["data"]}, out_dir=out_dir), name=f"{', '.join(picked['policies'])} on {picked['data']}")
    except StudioError as exc:
        show_error(exc, "Could not start the evaluation")
    else:
        st.session_state[state.EVAL_RUN] = run_id
        st.rerun()

# --- render ---
if active is not None:
    live_panel(active.id)
else:
    done = [r for r in list_runs("eval") if r.status not in ("queued", "running")]
    if not done:
        st.info("Pick policies and held-out articles, then press **Evaluate**. Train an SFT policy and then GRPO from it "
                "on the Policy page: the GRPO run's win rate against its SFT start answers *did RLHF help?*")
    else:
        chosen = pick_run(done, state.EVAL_RUN)
        from rlhf_core.paths import read_json

        results = read_json(chosen.run_dir / "results.json")
        if chosen.status == "failed":
            show_error(chosen.error or "see its folder", "The evaluation stopped")
        elif results is None:
            st.warning(f"The evaluation {md_escape(chosen.status)} before it wrote its results.")
        else:
            render_results(results, chosen.run_dir)
