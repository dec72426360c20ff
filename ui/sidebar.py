"""The shared sidebar: where the learner is in the RLHF pipeline, and what to do next.

`pipeline_state()` is plain Python (no Streamlit calls) so Home can reuse it and tests can check it;
`render_sidebar()` draws it once per rerun from app.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from ui import state
from ui.widgets import POLICY_KINDS, STATUS_ICON, active_runs, finished_runs, run_get


@dataclass(frozen=True)
class PipelineState:
    datasets: int
    reward_models: int
    policies: int
    running: tuple  # RunInfo objects of queued/running jobs

    @property
    def next_step(self) -> tuple[str, str, str]:
        """(what to do, page file, page title) for the first unfinished step of the loop."""
        if not self.datasets:
            return ("Load the sample data (or upload your own ratings).", "pages/data.py", "Data")
        if not self.reward_models:
            return ("Train a reward model on your ratings.", "pages/reward.py", "Reward model")
        if not self.policies:
            return ("Fine-tune a policy against the reward model.", "pages/policy.py", "Policy (RLHF)")
        return ("Compare headlines side by side and rate them; the ratings retrain the reward model.",
                "pages/compare.py", "Compare")


def _dataset_count() -> int:
    try:
        from rlhf_core.data.datasets import list_datasets
    except ImportError:
        return 0
    try:
        return len(list_datasets())
    except Exception:  # a damaged dataset folder must not take the sidebar down
        return 0


def pipeline_state() -> PipelineState:
    """Count what exists on disk: saved datasets, trained reward models and policies, live jobs."""
    return PipelineState(
        datasets=_dataset_count(),
        reward_models=len(finished_runs("reward")),
        policies=len(finished_runs(POLICY_KINDS)),
        running=tuple(active_runs()),
    )


def page_exists(path: str) -> bool:
    from pathlib import Path

    return (Path(__file__).resolve().parent.parent / path).exists()


JOB_PAGES = {"reward": ("pages/reward.py", "Reward model training"), "eval": ("pages/evaluate.py", "Evaluation"),
             "prepare": ("pages/home.py", "Preparing the offline models"), "lesson": ("pages/lesson.py", "Class lesson")}
# any other kind is a policy algorithm (sft, grpo, ...): "GRPO policy training" on the Policy page


def render_sidebar() -> PipelineState:
    """Pipeline checklist, the next step as a link, and any running job."""
    ps = pipeline_state()
    with st.sidebar:
        st.toggle("Large font (presenter)", key=state.LARGE_FONT, help="Bigger text on every page, for a projector.")
        st.subheader("Your pipeline")
        for done, label in (
            (ps.datasets, f"Data ({ps.datasets} dataset{'s' if ps.datasets != 1 else ''})"),
            (ps.reward_models, f"Reward model ({ps.reward_models} trained)"),
            (ps.policies, f"Policy ({ps.policies} trained)"),
        ):
            st.markdown(f"{':material/check_circle:' if done else ':material/radio_button_unchecked:'} {label}")
        todo, page, title = ps.next_step
        st.caption(f"**Next:** {todo}")
        if page_exists(page):
            st.page_link(page, label=f"Go to {title}", icon=":material/arrow_forward:")
        for info in ps.running:
            kind = run_get(info, "kind", "job")
            target, what = JOB_PAGES.get(kind, ("pages/policy.py", f"{str(kind).upper()} policy training"))
            step, total = run_get(info, "step") or 0, run_get(info, "total_steps") or 0
            st.info(f"{what} · step {step}/{total or '?'}", icon=STATUS_ICON["running"])
            st.page_link(target, label="Watch the running job", icon=":material/monitoring:")
    return ps
