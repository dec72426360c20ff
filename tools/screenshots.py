"""Start RLHF Studio, open every page in headless Chromium and save a screenshot of each.

    python tools/screenshots.py [--out test-artifacts/screenshots] [--home DIR] [--sample] [--train] [--lesson] [--sample --full-reward] [--evaluate]

The server helpers here are shared with tests/test_browser.py (recipe: ../shared/TESTING.md):
a free port, the server's output to a log file, a /_stcore/health poll, Debian's Chromium.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("RLHF_STUDIO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
PAGES = ["Home", "Class lesson", "Data", "Reward model", "Policy (RLHF)", "Compare", "Rate", "Evaluate"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(log_path: Path, env: dict | None = None, timeout: float = 60.0):
    """Run `streamlit run app.py` on a free port; yield its base URL; stop it afterwards."""
    port = free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"streamlit exited with code {proc.returncode}:\n{log_path.read_text()}")
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                        if resp.read().strip() == b"ok":
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not answer in {timeout:.0f} s:\n{log_path.read_text()}")
                time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished the current script run (stApp's data-test-script-state)."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout)
    page.wait_for_function(
        "() => { const s = document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state');"
        " return s && s !== 'running' && s !== 'initial'; }",
        timeout=timeout,
    )


def full_screenshot(page, path, width: int = 1400) -> None:
    """Screenshot the whole page. Streamlit scrolls inside its main container, not the document, so
    `full_page=True` alone stops at the viewport: grow the viewport to the content first."""
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stSidebarContent]')]"
        ".map(e => e.scrollHeight), 900)"
    )
    old = page.viewport_size
    page.set_viewport_size({"width": width, "height": min(int(height) + 40, 8000)})
    wait_idle(page)
    page.wait_for_timeout(1500)  # tables are drawn on a canvas after the resize: without the wait they come out blank
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    if old:
        page.set_viewport_size(old)


def nav_link(page, title: str):
    """The sidebar link whose label is exactly `title` (has_text alone would also match icon ligatures:
    the Reward model link's `star_rate` icon contains "rate")."""
    return page.get_by_test_id("stSidebarNavLink").filter(has=page.get_by_text(title, exact=True))


def goto_page(page, title: str) -> None:
    nav_link(page, title).first.click()
    page.wait_for_timeout(300)  # let the click start a rerun before waiting for it to end
    wait_idle(page)


def select_option(page, label: str, option: str) -> None:
    """Pick `option` in the Streamlit selectbox labelled `label`."""
    page.get_by_label(label, exact=True).first.click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def train_walk(page, out: Path, policy: str, steps: int) -> None:
    """Reward model (quick, tiny) then GRPO, with screenshots while the jobs run and when they end."""
    goto_page(page, "Reward model")
    select_option(page, "Backbone", "tiny")
    page.get_by_role("button", name="Start training").click()
    page.get_by_test_id("stProgress").first.wait_for(timeout=60_000)
    full_screenshot(page, out / "train-1-reward-live.png")
    page.get_by_text("Gold agreement").first.wait_for(timeout=300_000)
    wait_idle(page)
    full_screenshot(page, out / "train-2-reward-results.png")

    goto_page(page, "Policy (RLHF)")
    if policy != "tiny":
        select_option(page, "Policy to start from", "a folder or hub id")
        box = page.get_by_label("Folder or hub id", exact=True)
        box.fill(policy)
        box.press("Enter")
        wait_idle(page)
    fill_number(page, "steps", str(steps))
    page.get_by_role("button", name="Start training").click()
    page.get_by_test_id("stProgress").first.wait_for(timeout=60_000)
    page.get_by_text("Probe headlines").first.wait_for(timeout=600_000)
    full_screenshot(page, out / "train-3-policy-live.png")
    page.get_by_text("Show run", exact=True).first.wait_for(timeout=900_000)  # only once no run is live
    wait_idle(page)
    full_screenshot(page, out / "train-4-policy-done.png")


def multiselect(page, label: str, options: list[str]) -> None:
    """Replace the choices of the Streamlit multiselect labelled `label` with `options`."""
    box = page.get_by_test_id("stMultiSelect").filter(has=page.get_by_text(label, exact=True)).first
    clear = box.get_by_role("button", name="Clear all")
    if clear.count():
        clear.first.click()
        wait_idle(page)
    for option in options:
        box.locator("input").first.click()
        page.get_by_role("option", name=option, exact=True).click()
        wait_idle(page)
    page.keyboard.press("Escape")
    page.get_by_role("heading").first.click()  # leave the widget, so the next click is not eaten closing it
    page.wait_for_timeout(300)
    wait_idle(page)


def fill_number(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True).first
    box.fill(value)
    box.press("Enter")
    wait_idle(page)


def lesson_walk(page, out: Path, parts: tuple[str, ...] = ("hacking", "personas")) -> None:
    """The class lesson clicked like a teacher: Home -> Start -> Continue after each pause -> the parts.
    A screenshot at every pause (the whole main lesson takes about three minutes on 2 cores)."""
    from rlhf_core.lesson.config import part_stages

    goto_page(page, "Home")
    page.get_by_role("button", name="Start the class lesson").click()
    page.get_by_role("heading", name="Class lesson: RLHF in three minutes").wait_for(timeout=60_000)
    for stage in part_stages("main")[1:]:
        button = page.get_by_role("button", name=f"Continue: {stage.title}")
        button.wait_for(timeout=600_000)
        wait_idle(page)
        full_screenshot(page, out / f"lesson-before-{stage.key}.png")
        button.click()
    page.get_by_text("Paired gain over").first.wait_for(timeout=600_000)
    wait_idle(page)
    full_screenshot(page, out / "lesson-main-done.png")
    titles = {"hacking": "Part 2: reward hacking", "personas": "Part 3: whose values?"}
    finished = {"hacking": "Headlines that fool the reward model", "personas": "aligned to"}
    for part in parts:
        page.get_by_role("button", name=titles[part]).click()
        page.get_by_text(finished[part]).first.wait_for(timeout=1_800_000)
        page.get_by_role("button", name=f"Continue: {part_stages(part)[-1].title}").or_(
            page.get_by_text("under its own editor")).first.wait_for(timeout=1_800_000)
        wait_idle(page)
        full_screenshot(page, out / f"lesson-{part}.png")


def full_reward_walk(page, out: Path) -> None:
    """Reward model page: a full (fine-tuned) MiniLM reward model on the sample data, about 3 minutes."""
    goto_page(page, "Reward model")
    select_option(page, "Backbone", "minilm")
    page.get_by_text("Quick mode (frozen encoder", exact=False).first.click()  # off: full fine-tuning
    wait_idle(page)
    page.get_by_role("button", name="Start training").click()
    page.get_by_test_id("stProgress").first.wait_for(timeout=60_000)
    page.wait_for_timeout(60_000)
    full_screenshot(page, out / "full-1-reward-live.png")
    page.get_by_text("Gold agreement").first.wait_for(timeout=600_000)
    wait_idle(page)
    full_screenshot(page, out / "full-2-reward-results.png")


def evaluate_walk(page, out: Path) -> None:
    """Evaluate page: the two newest policy runs (defaults) against the first one's start, with the newest run's
    over-optimisation curve; screenshots while the job runs and of the results."""
    goto_page(page, "Evaluate")
    page.get_by_label("Over-optimisation curve of", exact=True).first.click()
    page.get_by_role("option").nth(1).click()  # the newest run (option 0 is "(none)")
    wait_idle(page)
    page.get_by_role("button", name="Evaluate").click()
    page.get_by_test_id("stProgress").first.wait_for(timeout=60_000)
    full_screenshot(page, out / "evaluate-1-live.png")
    page.get_by_text("Per policy", exact=True).first.wait_for(timeout=1_200_000)
    wait_idle(page)
    page.wait_for_timeout(2_000)  # let the Plotly charts draw
    full_screenshot(page, out / "evaluate-2-results.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "test-artifacts" / "screenshots"))
    parser.add_argument("--home", default=None, help="RLHF_STUDIO_HOME for the server (default: a temp folder)")
    parser.add_argument("--sample", action="store_true", help="click 'Load sample data' first")
    parser.add_argument("--train", action="store_true",
                        help="also train a quick tiny reward model and a short GRPO run, screenshotting the live charts")
    parser.add_argument("--lesson", action="store_true",
                        help="click through the class lesson from Home: the main part, reward hacking, whose values (~20 min)")
    parser.add_argument("--full-reward", action="store_true",
                        help="with --sample: train a full MiniLM reward model on the sample data (about 3 minutes)")
    parser.add_argument("--evaluate", action="store_true",
                        help="run an evaluation on the Evaluate page (the two newest policy runs, the newest one's curve)")
    parser.add_argument("--policy", default="tiny", help="policy spec for --train (default: the tiny preset)")
    parser.add_argument("--steps", type=int, default=12, help="GRPO steps for --train")
    parser.add_argument("--articles", type=int, default=40,
                        help="--train generates a synthetic newsroom of this many articles to train on")
    args = parser.parse_args(argv)

    import tempfile

    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    home = args.home or tempfile.mkdtemp(prefix="studio-shots-")
    with streamlit_server(out / "server.log", {"RLHF_STUDIO_HOME": home}) as url, sync_playwright() as p:
        browser = launch_browser(p)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url)
        wait_idle(page)
        if args.sample:
            goto_page(page, "Data")
            page.get_by_role("button", name="Load sample data").click()
            page.get_by_text("sample datasets.").first.wait_for(timeout=120_000)  # the flash once all are saved
            wait_idle(page)
        if args.train:
            goto_page(page, "Data")
            fill_number(page, "Articles", str(args.articles))
            page.get_by_role("button", name="Generate synthetic data").click()
            page.get_by_text("Generated").first.wait_for(timeout=120_000)
            wait_idle(page)
            train_walk(page, out, args.policy, args.steps)
        if args.lesson:
            lesson_walk(page, out)
        if args.full_reward:
            full_reward_walk(page, out)
        if args.evaluate:
            evaluate_walk(page, out)
        for index, title in enumerate(PAGES):
            links = nav_link(page, title)
            if not links.count():
                print(f"skip {title}: not in the navigation")
                continue
            goto_page(page, title)
            path = out / f"{index:02d}-{title.split()[0].lower()}.png"
            full_screenshot(page, path)
            print(path)
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
