"""AppTest of the Lesson page: started from Home, walked through every stage of all three parts
(Continue after each pause), the final tables drawn, presenter comforts, reset."""

from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from rlhf_core.lesson import plan
from rlhf_core.lesson.config import LessonConfig, part_stages

APP = str(Path(__file__).resolve().parent.parent / "app.py")
SMALL = dict(articles=50, prompts=60, fresh_articles=5, sft_steps=2, grpo_steps=2, hack_steps=3, persona_steps=2,
         generalist_steps=2, probe_articles=2)


def lesson_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/lesson.py").run()
    assert not at.exception, at.exception
    return at


def settle(at: AppTest, timeout: float = 300) -> AppTest:
    """Rerun (as the page's fragment would every second) until no lesson run is live."""
    from ui.services import job_runner

    runner, deadline = job_runner(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        lesson = plan.load_state()
        live = [r for r in plan.lesson_run_ids(lesson) if runner.status(r).is_live]
        if not live:
            at.run()
            assert not at.exception, at.exception
            return at
        time.sleep(0.5)
    raise AssertionError("lesson stage still running")


def buttons(at: AppTest) -> dict:
    return {b.key: b for b in at.button if b.key}


def frame_with(at: AppTest, column: str):
    """The first dataframe on the page that has `column` (or among its index labels)."""
    for element in at.dataframe:
        frame = element.value
        if column in frame.columns or column in frame.index:
            return frame
    raise AssertionError(f"no table with {column!r}")


def test_home_starts_the_lesson_and_opens_its_page():
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert "Class lesson" in "\n".join(str(s.value) for s in at.subheader)
    at.button(key="home_start_lesson").click().run()
    assert not at.exception, at.exception
    lesson = plan.load_state()
    assert lesson is not None and lesson["config"]["seed"] == 0 and list(lesson["runs"]) == ["newsroom"]
    from ui.services import job_runner

    plan.reset(job_runner())  # the full lesson is the browser test's; this one only checks the start


def test_lesson_page_walks_all_stages_with_a_pause_after_each():
    at = lesson_page()
    assert "Start the lesson" in [b.label for b in at.button]
    from ui.services import job_runner

    lesson = plan.start(LessonConfig(**SMALL))  # the page's Start button, with a lesson shrunk for the test
    plan.submit(job_runner(), lesson, "newsroom")
    for stage in part_stages("main")[1:]:
        settle(at)
        # a pause: the next stage waits for the teacher's click
        assert plan.stage_status(job_runner(), plan.load_state(), stage.key) == plan.PENDING
        buttons(at)[f"lesson_next_{stage.key}"].click().run()
        assert not at.exception, at.exception
    settle(at)
    assert any("Paired gain over 15 held-out articles" in str(m.value) for m in at.markdown)
    table = frame_with(at, "SFT headline")
    assert list(table.columns)[:3] == ["article", "SFT headline", "SFT gold"] and len(table) == 2
    # the two optional parts, each started by one click; their preparation stages chain without pauses
    for part, last in (("hacking", "hacking"), ("personas", "personas_table")):
        buttons(at)[f"lesson_part_{part}"].click().run()
        assert not at.exception, at.exception
        # the part's first stages need no pause: a thread starts each as the one before ends
        deadline = time.monotonic() + 300
        while plan.stage_status(job_runner(), plan.load_state(), last) != plan.DONE:
            assert time.monotonic() < deadline, f"{part} did not finish"
            time.sleep(0.5)
        settle(at)
    assert any("Headlines that fool the reward model" in str(m.value) for m in at.markdown)
    verdicts = frame_with(at, "reward hacked?")  # each run's reading, by the two criteria the part is judged on
    assert list(verdicts["gold held?"].isin(["yes", "no"])) == [True, True]
    grid = frame_with(at, "aligned to wire_editor")
    assert list(grid.index) == ["aligned to wire_editor", "aligned to tabloid_editor"]
    # every run of the lesson is an ordinary run: the Policy page lists the GRPO runs
    at.switch_page("pages/policy.py").run()
    assert not at.exception, at.exception


def test_presenter_font_and_reset():
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert at.toggle(key="presenter_large_font").value is False  # the shared sidebar's toggle
    assert not any("font-size: 22px" in str(h.proto) for h in at.get("html"))
    # AppTest redraws an st.navigation app's shared part on its first run only: a new app with the toggle on
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["presenter_large_font"] = True
    at.run()
    assert any("font-size: 22px" in str(h.proto) for h in at.get("html"))
    at.switch_page("pages/lesson.py").run()
    assert not at.exception, at.exception
    from ui.services import job_runner

    plan.start(LessonConfig(**SMALL))
    plan.submit(job_runner(), plan.load_state(), "newsroom")
    settle(at)
    at.button(key="lesson_reset").click().run()
    assert not at.exception, at.exception
    assert plan.load_state() is None and job_runner().list_runs() == []
    assert any("Lesson reset" in str(s.value) for s in at.success)
