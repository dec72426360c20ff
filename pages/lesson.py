"""Class lesson: SFT -> reward model -> GRPO -> before/after on `tiny`, one stage at a time, with a pause
for discussion after each; then reward hacking and "whose values?". The lesson lives in rlhf_core.lesson;
every dataset and run it makes shows on the other pages too.
"""

from __future__ import annotations

import streamlit as st

from rlhf_core.errors import StudioError
from rlhf_core.lesson import plan
from rlhf_core.lesson.config import LessonConfig, part_stages
from ui import state
from ui.lesson import before_after_table, personas_grid, stage_card
from ui.mode import owner_only
from ui.services import job_runner
from ui.widgets import show_error

PART_TITLES = {"hacking": "Part 2: reward hacking", "personas": "Part 3: whose values?"}

# --- inputs ---
owner_only()
runner = job_runner()
lesson = plan.load_state()
with st.sidebar:
    auto = st.toggle("Go on without pausing", key=state.LESSON_AUTO,
                     help="Off (for a class): the lesson waits after each stage until you click Continue.")
    if lesson is not None and st.button("Reset the lesson", key=state.LESSON_RESET, icon=":material/restart_alt:",
                                        help="Removes only the lesson's own datasets and runs."):
        removed = plan.reset(runner)
        st.session_state[state.LESSON_FLASH] = f"Lesson reset: {removed['runs']} runs and {removed['datasets']} datasets removed."
        st.rerun()

# --- title ---
st.title("Class lesson: RLHF in three minutes")
if flash := st.session_state.pop(state.LESSON_FLASH, None):
    st.success(flash)

# --- act ---
def start(key: str, quiet: bool = False) -> None:
    """Start a stage (and the stages after it that need no pause); `quiet`: another thread may have started it."""
    try:
        plan.advance(runner, lesson, key, through_pauses=auto)
    except StudioError as exc:
        if not quiet:
            show_error(exc, "Could not start the stage")
        return
    st.rerun()


if lesson is None:
    st.markdown("One click runs the whole loop on the `tiny` model with a synthetic newsroom: **SFT** on an editor's best "
                "headlines, a **reward model** of the editor's stars, **GRPO** against it, then the same articles "
                "**before and after**. The lesson pauses after each stage so the class can discuss it. About three minutes "
                "of computing on a laptop; the same seed gives the same lesson every time.")
    seed = st.number_input("Seed", 0, 10**6, 0, key=state.LESSON_SEED, help="Rehearse with a seed, teach with the same seed.")
    if st.button("Start the lesson", type="primary", icon=":material/school:", key="lesson_start"):
        lesson = plan.start(LessonConfig(seed=int(seed)))
        start("newsroom")
    st.stop()

# --- render the parts, stage by stage; the next stage waits behind a Continue button ---
started = ["main"] + [part for part in ("hacking", "personas") if any(s.key in lesson["runs"] for s in part_stages(part))]
for part in started:
    if part != "main":
        st.header(PART_TITLES[part])
    previous = None
    for stage in part_stages(part):
        status = plan.stage_status(runner, lesson, stage.key)
        if status == plan.PENDING:
            if previous is not None and not previous.pause or auto:
                start(stage.key, quiet=True)  # no pause here: its thread may have started it already
            elif st.button(f"Continue: {stage.title}", type="primary", key=f"lesson_next_{stage.key}",
                           icon=":material/arrow_forward:"):
                start(stage.key)
            break
        stage_card(stage, status, lesson["runs"][stage.key])
        if status == plan.BROKEN:
            if st.button("Run this stage again", key=f"lesson_retry_{stage.key}", icon=":material/replay:"):
                start(stage.key)
            break
        if status != plan.DONE:
            break  # it is running: the stages after it appear one by one
        previous = stage
    if part == "main" and (result := plan.result(runner, lesson, "compare")):
        before_after_table(result)
    if part == "personas" and (result := plan.result(runner, lesson, "personas_table")):
        personas_grid(result)

# --- the optional parts, once the main lesson is over ---
if plan.next_stage(runner, lesson, "main") is None:
    cols = st.columns(2)
    for col, part in zip(cols, ("hacking", "personas")):
        if part not in started and col.button(PART_TITLES[part], key=f"lesson_part_{part}", icon=":material/play_arrow:"):
            start(part_stages(part)[0].key)
