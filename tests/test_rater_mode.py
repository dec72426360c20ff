"""Rater mode: only the Rate page exists (also by URL), owner controls are gone, and a rater-mode
server and an owner process write to one SQLite database at the same time without losing a row."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from rlhf_core.store import RatingsStore
from ui import mode
from ui import rater as keys

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "rater_mode"
ARTICLE = "Riverton council voted 7 to 2 on Tuesday to approve a $49 million plan to rebuild the Main Street bridge."


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("YES", True), (" on ", True), ("0", False),
                                             ("", False), ("no", False), ("off", False)])
def test_rater_mode_switch_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv(mode.ENV_VAR, value)
    assert mode.rater_mode() is expected  # and no secrets.toml here: tolerated


@pytest.mark.parametrize("value", ["ture", "2", "rater", "enabled", "y e s"])
def test_an_unrecognised_value_fails_closed(monkeypatch, value):
    """A typo must not serve the owner's app: the server shows why and stops."""
    monkeypatch.setenv(mode.ENV_VAR, value)
    with pytest.raises(mode.RaterModeError, match=mode.ENV_VAR):
        mode.rater_mode()
    stopped = []
    monkeypatch.setattr(mode, "stop_server", stopped.append)
    RatingsStore().enqueue([{"article": ARTICLE, "headline": "Council approves bridge plan", "source": "tiny"}])
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    assert any("Rater mode is misconfigured" in e.value and "neither on" in e.value for e in at.error)
    assert stopped and not at.title and not at.button and not at.text_input  # nothing of any page
    page = AppTest.from_file(str(ROOT / "pages/rate.py"), default_timeout=60).run()  # reached directly
    assert not page.exception and not page.button and any("misconfigured" in e.value for e in page.error)


def test_an_unreadable_secrets_file_fails_closed(monkeypatch, tmp_path):
    import streamlit as st
    from streamlit import config

    monkeypatch.delenv(mode.ENV_VAR, raising=False)
    broken = tmp_path / "secrets.toml"
    broken.write_text("rater_mode = tru\n")  # not TOML
    saved = config.get_option("secrets.files")
    config.set_option("secrets.files", [str(broken)])
    st.secrets._reset()
    stopped = []
    monkeypatch.setattr(mode, "stop_server", stopped.append)
    try:
        with pytest.raises(mode.RaterModeError, match="could not be read"):
            mode.rater_mode()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
        assert not at.exception, at.exception
        assert any("could not be read" in e.value for e in at.error) and stopped and not at.title
        broken.write_text("rater_mode = 'perhaps'\n")  # readable, but neither on nor off
        st.secrets._reset()
        with pytest.raises(mode.RaterModeError, match="secret rater_mode"):
            mode.rater_mode()
        broken.unlink()  # no secrets file at all: owner mode, as before
        st.secrets._reset()
        assert mode.rater_mode() is False
    finally:
        config.set_option("secrets.files", saved)
        st.secrets._reset()


def test_the_owner_app_binds_to_loopback_unless_told_otherwise(studio_home, tmp_path):
    """Started without --server.address (as README says for the owner), the server listens on
    127.0.0.1 only, so the rater port's network cannot reach it. Read from /proc/net/tcp*."""
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        pytest.skip("needs Linux /proc/net/tcp")
    port = _free_port()
    log = open(tmp_path / "owner.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                               "--server.port", str(port), "--server.fileWatcherType", "none"],
                              cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(port, server)
        listening = []
        for table in tables:
            for line in table.read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.rsplit(":", 1)
                if int(hex_port, 16) == port and state == "0A":  # 0A = LISTEN
                    listening.append(address)
        assert listening and set(listening) <= {"0100007F", "00000000000000000000000001000000"}, listening
    finally:
        _stop(server)
        log.close()


def test_app_in_rater_mode_has_only_the_rate_page_and_no_owner_controls(monkeypatch):
    monkeypatch.setenv(mode.ENV_VAR, "1")
    RatingsStore().enqueue([{"article": ARTICLE, "headline": "Council approves bridge plan", "source": "tiny"}])
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Rate headlines"]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(str(ROOT / "pages/compare.py"))
    at.text_input(key=keys.RATE_RATER).input("alice").run()
    assert not at.get("download_button")  # no export
    assert not at.text_area  # guidelines are read-only
    assert RatingsStore().get_guidelines().splitlines()[0] in [t.value.splitlines()[0] for t in at.text]
    owner_keys = {keys.RATE_QUEUE_GO, keys.RATE_RETRAIN_GO, keys.RATE_GUIDELINES_SAVE}
    assert not owner_keys & {b.key for b in at.button}
    next(b for b in at.button if b.key.startswith(keys.RATE_STARS) and b.key.endswith("_5")).click().run()
    assert RatingsStore().ratings_frame()["score"].tolist() == [5]


def test_rater_mode_from_a_streamlit_secret(monkeypatch):
    monkeypatch.delenv(mode.ENV_VAR, raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.secrets["rater_mode"] = True
    at.run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Rate headlines"]


def _other_pages() -> list[str]:
    """Every page file app.py declares (and every script in its folder) except the Rate page."""
    sys.path.insert(0, str(ROOT))
    import app

    declared = {path for path, *_ in app.PAGES}
    folders = {Path(path).parent for path in declared}
    found = {str(p.relative_to(ROOT)) for folder in folders for p in (ROOT / folder).glob("*.py")}
    return sorted(p for p in declared | found if Path(p).name != "rate.py" and (ROOT / p).exists())


OTHER_PAGES = _other_pages()


@pytest.mark.parametrize("page", OTHER_PAGES)
def test_every_other_page_refuses_to_draw_in_rater_mode(monkeypatch, page):
    """Defence in depth: a page reached some other way than the navigation still stops at once.

    This matters in practice: with a `pages/` folder next to app.py, Streamlit (1.67) serves a
    server's FIRST session in the old pages-folder mode, where /data runs pages/data.py directly,
    without app.py and its rater-mode navigation (see the browser test below).
    """
    monkeypatch.setenv(mode.ENV_VAR, "1")
    at = AppTest.from_file(str(ROOT / page), default_timeout=60).run()
    assert not at.exception, at.exception
    assert any("only collects ratings" in w.value for w in at.warning), f"{page} does not call forbid_in_rater_mode()"
    assert not at.button and not at.get("file_uploader") and not at.get("download_button")


# --- two processes, one database ----------------------------------------------------------------
OWNER_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from rlhf_core.store import RatingsStore

    home = Path(sys.argv[1])
    store = RatingsStore()
    store.enqueue([{"article": sys.argv[2], "headline": "Owner adds this headline while alice rates", "source": "owner"}])
    (home / "owner-started").write_text("1")
    written = 0
    deadline = time.time() + 240
    while not (home / "owner-stop").exists() and time.time() < deadline:
        store.add_rating(f"owner article {written}", f"owner headline {written}", 1 + written % 5, "owner")
        written += 1
    seen = store.ratings_frame()
    print(written, int((seen["rater"] == "alice").sum()), flush=True)
""")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()


def _wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
                if reply.read().decode().strip() == "ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError("streamlit did not become healthy")


@pytest.mark.browser
def test_rater_server_and_owner_process_share_one_database(studio_home, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.fail("Chromium is missing: apt-get install chromium (see README)")
    store = RatingsStore()
    headlines = [f"Council approves bridge plan, take {k}" for k in range(5)]
    store.enqueue([{"article": ARTICLE, "headline": h, "source": "tiny"} for h in headlines])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "RLHF_STUDIO_HOME": str(studio_home), mode.ENV_VAR: "1", "PYTHONPATH": str(ROOT)}
    port = _free_port()
    server_log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=server_log, stderr=subprocess.STDOUT)
    owner = None
    try:
        _wait_healthy(port, server)
        owner_env = {k: v for k, v in env.items() if k != mode.ENV_VAR}  # the owner is not in rater mode
        owner = subprocess.Popen([sys.executable, "-c", OWNER_SCRIPT, str(studio_home), ARTICLE], cwd=ROOT,
                                 env=owner_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage"])
            page = browser.new_page()
            playwright.expect.set_options(timeout=30_000)
            base = f"http://127.0.0.1:{port}"
            # 1. other pages are unreachable by URL, also for the server's very first session (which
            #    Streamlit runs in pages-folder mode, bypassing app.py): the Rate page or the guard shows
            stems = [Path(p).stem for p in OTHER_PAGES]
            for k, path in enumerate([*stems, "", *stems]):
                page.goto(f"{base}/{path}")
                rate_or_guard = page.get_by_role("heading", name="Rate headlines").or_(
                    page.get_by_text("This server only collects ratings"))
                playwright.expect(rate_or_guard.first).to_be_visible()
                page.wait_for_load_state("networkidle")
                for test_id in ("stFileUploader", "stDownloadButton", "stNumberInput", "stSlider"):
                    playwright.expect(page.get_by_test_id(test_id)).to_have_count(0)
                page.screenshot(path=str(ARTIFACTS / f"1-url-{k}-{path or 'root'}.png"))
            # 2. alice rates every queued headline while the owner process writes ratings at the same time
            deadline = time.time() + 60
            while not (studio_home / "owner-started").exists():
                assert time.time() < deadline and owner.poll() is None, owner.stderr.read() if owner.poll() else ""
                time.sleep(0.1)
            page.goto(base)
            page.get_by_label("Your name (rater)").fill("alice")
            page.get_by_label("Your name (rater)").press("Enter")
            playwright.expect(page.get_by_text("0 of 6 headlines rated")).to_be_visible()
            playwright.expect(page.get_by_role("button", name="Retrain reward model (quick)")).to_have_count(0)
            for done in range(1, 7):
                page.get_by_role("button", name="4 ★").click()
                playwright.expect(page.get_by_text(f"{done} of 6 headlines rated")).to_be_visible()
                # as a person would: click again once the next headline is drawn. A click on the
                # previous item's fading buttons rates that item again (ui/rating.py), not this one
                playwright.expect(page.locator("[data-stale='true']")).to_have_count(0)
            playwright.expect(page.get_by_text("Nothing left to rate")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "2-all-rated.png"))
            browser.close()
        (studio_home / "owner-stop").write_text("1")
        out, err = owner.communicate(timeout=60)
        assert owner.returncode == 0, err
        written, alice_seen_by_owner = map(int, out.split())
    finally:
        if owner is not None and owner.poll() is None:
            owner.kill()
        _stop(server)
        server_log.close()
        print((tmp_path / "server.log").read_text())
    # 3. nothing lost, nothing duplicated, the file is intact; each side saw the other's writes
    frame = RatingsStore().ratings_frame()
    alice = frame[frame["rater"] == "alice"]
    assert len(alice) == 6 and set(alice["score"]) == {4}
    assert "Owner adds this headline while alice rates" in set(alice["headline"])  # owner -> rater
    assert alice_seen_by_owner == 6  # rater -> owner
    assert written > 50 and (frame["rater"] == "owner").sum() == written
    assert not frame.duplicated(["rater", "item_key"]).any()
    with sqlite3.connect(studio_home / "ratings.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
