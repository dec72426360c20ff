"""RatingsStore: nothing lost or double-counted under threads and two processes, undo, queues, exports."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from rlhf_core import paths
from rlhf_core.data.schema import COLUMNS
from rlhf_core.errors import StudioError
from rlhf_core.store import DEFAULT_GUIDELINES, RatingsStore, _csv_cell, pair_key, rating_key


@pytest.fixture
def store():
    db = RatingsStore()
    yield db
    db.close()


def test_schema_pragmas_and_default_path(store, studio_home):
    assert store.path == paths.db_path() and store.path.parent == studio_home.resolve()
    conn = store._conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    # re-opening an existing database does not re-migrate or lose data
    store.add_rating("article", "headline", 3, "ann")
    again = RatingsStore(store.path)
    assert len(again.ratings_frame()) == 1
    again.close()


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "future.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StudioError, match="newer"):
        RatingsStore(path)


def test_eight_threads_by_200_writes_lose_nothing(store):
    errors = []
    barrier = threading.Barrier(8)

    def rater(number):
        try:
            barrier.wait()
            for i in range(200):
                if i % 4 == 3:
                    store.add_vote(f"article {i}", f"A {number}-{i}", f"B {number}-{i}", "a", f"rater{number}")
                else:
                    store.add_rating(f"article {i}", f"headline {number}-{i}", 1 + i % 5, f"rater{number}")
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=rater, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    ratings, votes = store.ratings_frame(), store.votes_frame()
    assert len(ratings) == 8 * 150 and len(votes) == 8 * 50
    assert not ratings.duplicated(["rater", "item_key"]).any() and ratings["id"].is_unique
    assert set(ratings["rater"]) == {f"rater{n}" for n in range(8)}
    counts = store.counts_by_rater()
    assert counts["total"].tolist() == [200] * 8 and counts["votes"].tolist() == [50] * 8
    assert store._conn().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # the 8 finished threads' connections are closed once a new thread connects (no handle leak)
    reader = threading.Thread(target=store.counts_by_rater)
    reader.start()
    reader.join()
    assert len(store._connections) == 2  # this thread's and the reader's


def test_double_click_is_idempotent(store):
    first = store.add_rating("The council voted 7-2.", "Council approves budget", 4, "ann", source="ppo-1", temperature=0.7)
    again = store.add_rating("The council voted 7-2.", "Council approves budget", 4, "ann", source="ppo-1", temperature=0.7)
    corrected = store.add_rating("The council voted 7-2.", "Council approves budget", 5, "ann")
    assert first == again == corrected
    frame = store.ratings_frame()
    assert len(frame) == 1 and frame["score"].tolist() == [5]  # the latest answer wins
    assert frame["temperature"].tolist() == [0.7] and frame["source"].tolist() == ["ppo-1"]
    # another rater on the same item is a separate rating
    assert store.add_rating("The council voted 7-2.", "Council approves budget", 2, "bob") != first
    # the same pair shown the other way round is the same comparison: one vote, in the latest order
    vote = store.add_vote("art", "left", "right", "a", "ann", source_a="sft", source_b="ppo")
    assert store.add_vote("art", "right", "left", "b", "ann", source_a="ppo", source_b="sft") == vote
    votes = store.votes_frame()
    assert len(votes) == 1 and votes.loc[0, ["headline_a", "winner", "source_a"]].tolist() == ["right", "b", "ppo"]
    assert pair_key("art", "left", "right") == pair_key("art", "right", "left") != pair_key("art2", "left", "right")
    # an explicit item key is honoured
    assert store.add_rating("x", "y", 3, "cy", item_key="q-1") == store.add_rating("x2", "y2", 4, "cy", item_key="q-1")


def test_undo_takes_back_only_this_sessions_writes(store):
    """?rater=alice in another browser must not wipe alice's ratings: undo is bound to the session
    that wrote, walks back only that session's history, and restores an answer a write replaced."""
    assert store.undo_last("ann", "tab-1") is None
    store.add_rating("a0", "h0", 4, "ann")  # written without a session (e.g. an import): never undone
    store.add_rating("a1", "h1", 3, "ann", session="tab-1")
    store.add_vote("a2", "x", "y", "tie", "ann", session="tab-1")
    store.add_rating("a3", "h3", 5, "bob", session="tab-1")
    store.add_rating("a4", "h4", 1, "ann", session="tab-2")  # ann again, in another browser
    assert store.undo_last("ann", "intruder") is None  # a new session with ann's name: nothing to undo
    assert len(store.ratings_frame()) == 4 and len(store.votes_frame()) == 1
    undone = store.undo_last("ann", "tab-1")
    assert undone["kind"] == "vote" and undone["winner"] == "tie" and undone["restored"] is False
    assert store.undo_last("ann", "tab-1")["headline"] == "h1"
    assert store.undo_last("ann", "tab-1") is None  # h0 (no session) and h4 (tab-2) stay
    assert sorted(store.ratings_frame()["headline"]) == ["h0", "h3", "h4"]
    assert store.undo_last("ann", "tab-2")["headline"] == "h4"
    # a re-rating in a later session replaced an answer: undo gives the earlier answer back
    store.add_rating("a0", "h0", 2, "ann", session="tab-3")
    store.add_rating("a0", "h0", 2, "ann", session="tab-3")  # a double click changes nothing: one step
    undone = store.undo_last("ann", "tab-3")
    assert undone["score"] == 2 and undone["restored"] is True
    assert store.ratings_frame().set_index("headline").loc["h0", "score"] == 4
    assert store.undo_last("ann", "tab-3") is None
    # an answer changed since in another tab is not rolled back by the first tab's undo
    store.add_rating("a5", "h5", 3, "ann", session="tab-4")
    store.add_rating("a5", "h5", 5, "ann", session="tab-5")
    assert store.undo_last("ann", "tab-4") is None
    assert store.ratings_frame().set_index("headline").loc["h5", "score"] == 5
    with pytest.raises(StudioError, match="session"):
        store.undo_last("ann", "")


def test_rate_queued_rates_exactly_the_row_the_click_named(store):
    store.enqueue([{"article": "art", "headline": h, "source": "tiny", "temperature": 0.7} for h in ("first", "second")])
    first, second = store.next_for_rater("ann", 2)
    store.rate_queued(first["id"], first["item_key"], 4, "ann", session="s")
    store.rate_queued(first["id"], first["item_key"], 4, "ann", session="s")  # the late second click
    frame = store.ratings_frame()
    assert frame[["headline", "score", "source", "temperature"]].values.tolist() == [["first", 4, "tiny", 0.7]]
    assert store.next_for_rater("ann", 2)[0]["headline"] == "second"  # untouched
    with pytest.raises(StudioError, match="changed"):
        store.rate_queued(second["id"], first["item_key"], 2, "ann")
    store.clear_queue("ratings")
    with pytest.raises(StudioError, match="no longer in the queue"):
        store.rate_queued(second["id"], second["item_key"], 2, "ann")
    assert len(store.ratings_frame()) == 1
    # votes: the sides as shown (swapped) are stored, and the winner refers to them
    store.enqueue_pairs([{"article": "art", "headline_a": "left", "headline_b": "right", "source_a": "p", "source_b": "q"}])
    pair = store.next_pair_for_rater("ann")
    store.vote_queued(pair["id"], pair["item_key"], "a", "ann", swapped=True)
    votes = store.votes_frame()
    assert votes.loc[0, ["headline_a", "headline_b", "source_a", "winner"]].tolist() == ["right", "left", "q", "a"]


def test_a_version_1_database_is_migrated_in_place(tmp_path):
    from rlhf_core.store import _MIGRATIONS

    path = tmp_path / "v1.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(_MIGRATIONS[0])
    conn.execute("INSERT INTO ratings (article, headline, score, rater, created, item_key) VALUES ('a', 'h', 3, 'ann', 1, ?)",
                 (rating_key("a", "h"),))
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    store = RatingsStore(path)
    assert store._conn().execute("PRAGMA user_version").fetchone()[0] == 2
    assert store.ratings_frame()["headline"].tolist() == ["h"]
    store.add_rating("a", "h", 5, "ann", session="s")
    assert store.undo_last("ann", "s")["restored"] is True and store.ratings_frame()["score"].tolist() == [3]
    store.close()


def test_validation_messages(store):
    cases = [
        (lambda: store.add_rating("a", "h", 6, "ann"), "1 to 5"),
        (lambda: store.add_rating("a", "h", 3.5, "ann"), "1 to 5"),
        (lambda: store.add_rating("a", "h", True, "ann"), "1 to 5"),
        (lambda: store.add_rating("a", "  ", 3, "ann"), "headline"),
        (lambda: store.add_rating("", "h", 3, "ann"), "article"),
        (lambda: store.add_rating("a", "h", 3, " "), "rater name"),
        (lambda: store.add_rating("a", "h", 3, "x" * 65), "64"),
        (lambda: store.add_rating("a", "h", 3, "ann", temperature=float("nan")), "temperature"),
        (lambda: store.add_vote("a", "x", "y", "left", "ann"), "winner"),
        (lambda: store.add_vote("a", "x", "x", "a", "ann"), "identical"),
        (lambda: store.enqueue([{"article": "a"}]), "headline of queue item 1"),
        (lambda: store.export_csv("everything"), "ratings"),
        (lambda: store.set_guidelines(""), "guidelines"),
    ]
    for call, message in cases:
        with pytest.raises(StudioError, match=message):
            call()
    assert store.add_rating("a", "h", 4.0, " ann ") > 0  # 4.0 stars is 4; names are trimmed
    assert store.ratings_frame()["rater"].tolist() == ["ann"]
    assert len(store.ratings_frame()) == 1  # nothing invalid landed


def test_rating_queue_per_rater(store):
    items = [
        {"article": "art 1", "headline": "h1", "source": "sft", "temperature": 0.3},
        {"article": "art 1", "headline": "h1", "source": "ppo", "temperature": 1.0},  # same text, other model
        {"article": "art 1", "headline": "h2", "source": "sft"},
        {"article": "art 2", "headline": "h3", "source": "sft"},
    ]
    assert store.enqueue(items) == 4
    assert store.enqueue(items[:2]) == 0  # already queued
    assert store.queue_progress("ann") == (0, 3)  # three distinct texts to rate

    first = store.next_for_rater("ann")
    assert [q["headline"] for q in first] == ["h1"] and first[0]["source"] == "sft"
    assert [q["headline"] for q in store.next_for_rater("ann", n=5)] == ["h1", "h2", "h3"]
    # skip: the page passes the ids it skipped this session
    assert [q["headline"] for q in store.next_for_rater("ann", n=1, skipped=[first[0]["id"]])] == ["h2"]

    store.add_rating(first[0]["article"], first[0]["headline"], 4, "ann", source=first[0]["source"])
    assert [q["headline"] for q in store.next_for_rater("ann", n=5)] == ["h2", "h3"]
    assert store.queue_progress("ann") == (1, 3)
    assert [q["headline"] for q in store.next_for_rater("bob", n=5)] == ["h1", "h2", "h3"]  # bob unaffected
    assert store.queue_progress("bob") == (0, 3)
    for item in store.next_for_rater("ann", n=5):
        store.add_rating(item["article"], item["headline"], 3, "ann")
    assert store.next_for_rater("ann") == [] and store.queue_progress("ann") == (3, 3)
    assert first[0]["item_key"] == rating_key("art 1", "h1")
    assert store.clear_queue() == 4 and store.queue_progress("bob") == (0, 0)


def test_pair_queue_per_rater(store):
    pairs = [
        {"article": "art", "headline_a": "x", "headline_b": "y", "source_a": "sft", "source_b": "ppo"},
        {"article": "art", "headline_a": "same", "headline_b": "same"},  # nothing to compare: skipped
        {"article": "art", "headline_a": "u", "headline_b": "v", "source_a": "ppo", "source_b": "dpo"},
    ]
    assert store.enqueue_pairs(pairs) == 2 and store.enqueue_pairs(pairs) == 0
    pair = store.next_pair_for_rater("ann")
    assert (pair["headline_a"], pair["source_b"]) == ("x", "ppo")
    assert store.next_pair_for_rater("ann", skipped=[pair["id"]])["headline_a"] == "u"
    # voting on the pair shown swapped still counts as done for that pair
    store.add_vote(pair["article"], pair["headline_b"], pair["headline_a"], "a", "ann")
    assert store.next_pair_for_rater("ann")["headline_a"] == "u"
    assert store.queue_progress("ann", kind="votes") == (1, 2)
    assert store.next_pair_for_rater("bob")["headline_a"] == "x"


def test_exports_neutralise_formulas(store):
    store.add_rating("=cmd|' /C calc'!A0", "+SUM(1,2)", 5, "ann", source="-2+3", temperature=0.7)
    store.add_rating("Plain article, with a comma", "@attacker\nsecond line", 1, "=bob")
    store.add_rating("article", "\tTabbed", 2, "cy")
    store.add_rating("article", "\rCR", 2, "cy")
    store.add_vote("a", "=A", "B", "b", "ann", source_a="ppo", source_b="sft")
    store.add_vote("a", "C", "D", "tie", "ann")

    rows = list(csv.DictReader(io.StringIO(store.export_csv("ratings").decode("utf-8"))))
    # texts are stored trimmed, so a leading tab / CR is gone before export; the others are quoted
    assert [r["headline"] for r in rows] == ["'+SUM(1,2)", "'@attacker\nsecond line", "Tabbed", "CR"]
    assert rows[0]["article"] == "'=cmd|' /C calc'!A0" and rows[0]["source"] == "'-2+3"
    assert rows[1]["rater"] == "'=bob" and rows[1]["article"] == "Plain article, with a comma"
    assert rows[0]["score"] == "5" and rows[0]["temperature"] == "0.7" and rows[1]["temperature"] == ""
    assert rows[0]["created_utc"].endswith("+00:00")
    assert [_csv_cell(v) for v in ("\tx", "\rx", "-1", "ok", 3, None)] == ["'\tx", "'\rx", "'-1", "ok", 3, ""]
    for row in rows:  # no cell a spreadsheet would evaluate
        assert not any(value.startswith(("=", "+", "-", "@", "\t", "\r")) for value in row.values())
    votes = list(csv.DictReader(io.StringIO(store.export_csv("votes").decode("utf-8"))))
    assert [v["headline_a"] for v in votes] == ["'=A", "C"]

    # JSONL keeps the exact text (it is for programs, not spreadsheets)
    lines = [json.loads(line) for line in store.export_jsonl("ratings").decode("utf-8").splitlines()]
    assert lines[0]["headline"] == "+SUM(1,2)" and lines[1]["temperature"] is None and lines[0]["score"] == 5
    prefs = [json.loads(line) for line in store.preferences_jsonl().decode("utf-8").splitlines()]
    assert prefs == [{"prompt": "a", "chosen": "B", "rejected": "=A"}]  # the tie carries no preference


def test_canonical_tables_and_new_since(store):
    store.add_rating("art", "great headline", 5, "ann")
    store.add_rating("art", "bad headline", 1, "ann")
    store.add_rating("art", "ok headline", 3, "bob")
    store.add_vote("art", "great headline", "bad headline", "a", "ann")
    store.add_vote("art", "ok headline", "great headline", "b", "bob")
    store.add_vote("art", "x", "y", "both_bad", "bob")
    cutoff = time.time()
    time.sleep(0.01)
    store.add_vote("art", "p", "q", "tie", "cy")

    ratings = store.as_ratings_table()
    assert list(ratings.columns) == COLUMNS["ratings"]
    assert ratings["score"].tolist() == [1.0, 0.0, 0.5] and ratings["score_raw"].tolist() == [5.0, 1.0, 3.0]
    assert set(ratings["source"]) == {"app:ratings"} and set(ratings["weight"]) == {1.0}

    prefs = store.as_preferences_table()
    assert list(prefs.columns) == COLUMNS["preferences"]
    assert prefs[["chosen", "rejected"]].values.tolist() == [["great headline", "bad headline"], ["great headline", "ok headline"]]
    assert set(prefs["source"]) == {"app:votes"} and prefs["margin"].tolist() == [0.0, 0.0]

    assert store.new_since(None) == 7 and store.new_since(cutoff) == 1 and store.new_since(time.time() + 1) == 0


def test_empty_store_frames_and_guidelines(store):
    assert store.ratings_frame().empty and store.votes_frame().empty
    assert list(store.as_ratings_table().columns) == COLUMNS["ratings"] and store.as_preferences_table().empty
    assert store.export_csv("ratings").decode().startswith("id,created,created_utc,rater")
    assert store.export_jsonl("votes") == b"" and store.preferences_jsonl() == b""
    assert store.counts_by_rater().empty and store.queue_progress("ann") == (0, 0)
    assert store.get_guidelines() == DEFAULT_GUIDELINES and "1 to 5" in DEFAULT_GUIDELINES
    store.set_guidelines("Prefer numbers in headlines.")
    other = RatingsStore(store.path)  # another process/session sees the owner's edit
    assert other.get_guidelines() == "Prefer numbers in headlines."
    other.close()


_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from rlhf_core.store import RatingsStore

    db, rater, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    store = RatingsStore(Path(db))
    Path(db + "." + rater + ".ready").touch()
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:  # both processes start writing together
        time.sleep(0.005)
    for i in range(300):
        store.add_rating(f"article {i % 30}", f"{rater} headline {i}", 1 + i % 5, rater, source=rater)
        time.sleep(0.0005)  # a rater's pace, compressed: lets the other process take the lock
        if i % 50 == 0:
            store.next_for_rater(rater, n=3)  # reads interleaved with writes, as on the Rate page
    store.close()
    """
)


def test_two_processes_write_one_database(store, tmp_path):
    """The owner's server and a rater-mode server write to one database at the same time."""
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(store.path), name, str(go)],
                         cwd=str(paths.repo_root()), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for name in ("owner", "rater")
    ]
    try:
        deadline = time.monotonic() + 60
        while not all((store.path.parent / f"{store.path.name}.{n}.ready").exists() for n in ("owner", "rater")):
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "writers did not start"
            time.sleep(0.01)
        go.touch()
        for _ in range(20):  # this process reads while they write, like the owner's page polling
            store.ratings_frame()
            time.sleep(0.01)
        outputs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], [err.decode()[-2000:] for _, err in outputs]
    frame = store.ratings_frame()
    assert len(frame) == 600 and frame["id"].is_unique
    assert frame.groupby("rater").size().to_dict() == {"owner": 300, "rater": 300}
    assert not frame.duplicated(["rater", "item_key"]).any()
    order = frame.sort_values("id")["rater"].tolist()
    assert sum(a != b for a, b in zip(order, order[1:])) >= 2  # the writes really interleaved
    assert store._conn().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
