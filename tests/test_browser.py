"""A real browser walks the newcomer path: Home -> Data (sidebar) -> Load sample data -> a bad upload.

Headless Debian Chromium through Playwright (recipe: ../shared/TESTING.md). Screenshots of each step
land in test-artifacts/browser/ so a failure can be looked at.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tools.screenshots import CHROMIUM, ROOT, full_screenshot, launch_browser, nav_link, streamlit_server

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "test-artifacts" / "browser"


@pytest.fixture()
def server(studio_home):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium (see README)")
    log = ARTIFACTS / "server.log"
    try:
        with streamlit_server(log, {"RLHF_STUDIO_HOME": str(studio_home)}) as url:
            yield url
    finally:
        if log.exists():
            print(log.read_text(errors="replace")[-4000:])


def test_newcomer_path(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    bad = tmp_path / "broken.csv"
    bad.write_bytes(b"article,headline,score\nAn article,A headline,five\n")
    with sync_playwright() as p:
        browser = launch_browser(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server)
            # 1. Home: the title, the next step, the pipeline in the sidebar
            expect(page.get_by_role("heading", name="RLHF Studio")).to_be_visible()
            expect(page.get_by_text("Load the sample data").first).to_be_visible()
            expect(page.get_by_text("Data (0 datasets)")).to_be_visible()
            full_screenshot(page, ARTIFACTS / "1-home.png")

            # 2. Data via the sidebar navigation, like a user
            nav_link(page, "Data").click()
            expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible()
            expect(page.get_by_text("No dataset yet")).to_be_visible()

            # 3. Load sample data: the dataset table appears and the sidebar ticks the step
            page.get_by_role("button", name="Load sample data").click()
            expect(page.get_by_text("Loaded 9 sample datasets")).to_be_visible()
            expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
            expect(page.get_by_text("Data (9 datasets)")).to_be_visible()
            datasets = sorted(p.name for p in (Path(os.environ["RLHF_STUDIO_HOME"]) / "datasets").iterdir())
            assert "sample-train_ratings" in datasets
            full_screenshot(page, ARTIFACTS / "2-data-sample-loaded.png")

            # 4. A bad upload: a clear error naming line and column; the page keeps working
            page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(bad))
            error = page.get_by_test_id("stAlertContentError").first
            expect(error).to_contain_text("not imported")
            expect(error).to_contain_text("line 2")
            expect(error).to_contain_text("score")
            full_screenshot(page, ARTIFACTS / "3-data-bad-upload.png")
            nav_link(page, "Home").click()
            expect(page.get_by_text("Train a reward model").first).to_be_visible()
            full_screenshot(page, ARTIFACTS / "4-home-next-step.png")
        finally:
            browser.close()


@pytest.mark.slow
def test_class_lesson_from_home_to_the_final_table(server):
    """The whole default lesson, clicked like a teacher: Home -> Start -> Continue after each pause -> the table.

    About three minutes of training on 2 cores; afterwards gold after GRPO must beat gold after SFT."""
    import json

    from playwright.sync_api import expect, sync_playwright

    from rlhf_core.lesson.config import part_stages

    expect.set_options(timeout=30_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch_browser(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server)
            page.get_by_role("button", name="Start the class lesson").click()
            expect(page.get_by_role("heading", name="Class lesson: RLHF in three minutes")).to_be_visible()
            for stage in part_stages("main")[1:]:
                button = page.get_by_role("button", name=f"Continue: {stage.title}")
                expect(button).to_be_visible(timeout=300_000)  # the stage before it has finished: a pause
                full_screenshot(page, ARTIFACTS / f"lesson-before-{stage.key}.png")
                button.click()
            expect(page.get_by_text("Paired gain over 200 held-out articles")).to_be_visible(timeout=300_000)
            expect(page.get_by_role("button", name="Part 2: reward hacking")).to_be_visible()
            full_screenshot(page, ARTIFACTS / "lesson-final-table.png")
        finally:
            browser.close()
    state = json.loads((Path(os.environ["RLHF_STUDIO_HOME"]) / "lesson.json").read_text())
    result = json.loads((Path(os.environ["RLHF_STUDIO_HOME"]) / "runs" / state["runs"]["compare"][0] / "result.json").read_text())
    assert result["gold_after"] > result["gold_before"], result["gold_gain"]
    probes = result["table"]
    assert sum(r["after_gold"] for r in probes) > sum(r["before_gold"] for r in probes), probes
