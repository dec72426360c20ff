"""The ratings store: star ratings, A/B votes and the Rate page's queues in one SQLite file.

Built for several writers at once: the owner's app and a rater-mode app (two processes) and many
browser sessions (threads) share `paths.db_path()`. What makes that safe:

- WAL journal: readers never block the writer and the writer never blocks readers.
- busy_timeout (10 s): a writer that finds the database locked waits instead of failing.
- one connection per thread (threading.local): sqlite3 connections are not shared across threads.
- every write is one transaction opened with BEGIN IMMEDIATE, which takes the write lock up front,
  so a read-then-write (undo, upsert) can never deadlock on a lock upgrade or see a stale read.
- synchronous=NORMAL: with WAL a committed rating survives an application crash; only a power cut
  may lose the last few commits (SQLite's documented trade-off).
- schema versioned with PRAGMA user_version; migrations run once, inside a transaction.

Double clicks: ratings are unique per (rater, item_key) with item_key = sha256(article, headline),
and votes per (rater, item_key) with item_key = sha256(article, {headline_a, headline_b}) (order-free,
so the same pair shown swapped is the same comparison). A second submission of the same item by
the same rater does NOT add a row: it replaces the answer (latest score / winner wins) and returns
the same id, keeping the original `created` time. So a double click never double-counts, and a
rater who corrects a click before moving on keeps only the corrected answer.

The Rate page rates queue rows by id (`rate_queued`, `vote_queued`): the id travels with the click
and the store rates exactly that row, so a second click that arrives after the page moved on
(a double click, a key press) lands on the item the rater saw, never on the next one.

Undo is per browser session: each write made with a `session` token is journalled (`undo_log`:
the answer before and after), and `undo_last(rater, session)` steps back through that session's
own writes only, restoring the earlier answer where the write had replaced one. A name typed into
another browser (`?rater=alice`) cannot undo anything alice did.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import math
import numbers
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from rlhf_core import paths
from rlhf_core.errors import StudioError

WINNERS = ("a", "b", "tie", "both_bad")
MAX_RATER_CHARS = 64
MAX_TEXT_CHARS = 50_000
BUSY_TIMEOUT_S = 10.0
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

DEFAULT_GUIDELINES = """\
Rate each headline for its article, 1 to 5 stars.

5  Accurate, specific and concise: names who did what (and the key number) in about 10 words.
4  Accurate and clear, but a little long, vague or flat.
3  Mostly right but misses the main point, or is much too long.
2  Misleading: clickbait ("You won't believe..."), sensational wording, or important facts missing.
1  Wrong: a fact (number, person, place) contradicts the article, or it is not a headline.

A/B votes: pick the headline an editor would publish. Choose "tie" when both are equally good,
"both bad" when you would publish neither. Judge the words only; you will not know which model
wrote which until after your vote. Skip items you cannot judge.
"""

_MIGRATIONS: tuple[str, ...] = (
    # version 1
    """
    CREATE TABLE IF NOT EXISTS ratings (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        article     TEXT NOT NULL,
        headline    TEXT NOT NULL,
        source      TEXT NOT NULL DEFAULT '',
        temperature REAL,
        score       INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
        rater       TEXT NOT NULL,
        created     REAL NOT NULL,
        item_key    TEXT NOT NULL,
        UNIQUE (rater, item_key)
    );
    CREATE INDEX IF NOT EXISTS ratings_rater_created ON ratings (rater, created);
    CREATE INDEX IF NOT EXISTS ratings_created ON ratings (created);
    CREATE TABLE IF NOT EXISTS votes (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        article     TEXT NOT NULL,
        headline_a  TEXT NOT NULL,
        headline_b  TEXT NOT NULL,
        source_a    TEXT NOT NULL DEFAULT '',
        source_b    TEXT NOT NULL DEFAULT '',
        winner      TEXT NOT NULL CHECK (winner IN ('a', 'b', 'tie', 'both_bad')),
        rater       TEXT NOT NULL,
        created     REAL NOT NULL,
        item_key    TEXT NOT NULL,
        UNIQUE (rater, item_key)
    );
    CREATE INDEX IF NOT EXISTS votes_rater_created ON votes (rater, created);
    CREATE INDEX IF NOT EXISTS votes_created ON votes (created);
    CREATE TABLE IF NOT EXISTS queue (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        article     TEXT NOT NULL,
        headline    TEXT NOT NULL,
        source      TEXT NOT NULL DEFAULT '',
        temperature REAL,
        created     REAL NOT NULL,
        item_key    TEXT NOT NULL,
        UNIQUE (article, headline, source)
    );
    CREATE INDEX IF NOT EXISTS queue_item_key ON queue (item_key);
    CREATE TABLE IF NOT EXISTS pair_queue (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        article     TEXT NOT NULL,
        headline_a  TEXT NOT NULL,
        headline_b  TEXT NOT NULL,
        source_a    TEXT NOT NULL DEFAULT '',
        source_b    TEXT NOT NULL DEFAULT '',
        created     REAL NOT NULL,
        item_key    TEXT NOT NULL,
        UNIQUE (article, headline_a, headline_b, source_a, source_b)
    );
    CREATE INDEX IF NOT EXISTS pair_queue_item_key ON pair_queue (item_key);
    CREATE TABLE IF NOT EXISTS guidelines (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        text    TEXT NOT NULL,
        updated REAL NOT NULL
    );
    """,
    # version 2: the undo journal (one row per write a browser session made; undo walks it back)
    """
    CREATE TABLE IF NOT EXISTS undo_log (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        session  TEXT NOT NULL,
        rater    TEXT NOT NULL,
        kind     TEXT NOT NULL CHECK (kind IN ('rating', 'vote')),
        row_id   INTEGER NOT NULL,
        before   TEXT,
        after    TEXT NOT NULL,
        created  REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS undo_log_session ON undo_log (session, rater, id);
    """,
)
MAX_SESSION_CHARS = 128
# What an undo restores: the answer a write changed (the item itself never changes).
_ANSWER = {"rating": ("ratings", ("score",)),
           "vote": ("votes", ("headline_a", "headline_b", "source_a", "source_b", "winner"))}

RATING_COLUMNS = ["id", "created", "rater", "article", "headline", "score", "source", "temperature", "item_key"]
VOTE_COLUMNS = ["id", "created", "rater", "article", "headline_a", "headline_b", "winner",
                "source_a", "source_b", "item_key"]


def rating_key(article: str, headline: str) -> str:
    """The identity of a rated item: the same text pair is the same item whoever generated it."""
    return _sha256("rating", article, headline)


def pair_key(article: str, headline_a: str, headline_b: str) -> str:
    """The identity of an A/B comparison, independent of which headline was shown on the left."""
    first, second = sorted((headline_a, headline_b))
    return _sha256("pair", article, first, second)


def _sha256(*parts: str) -> str:
    # \x1f (unit separator) keeps ("ab", "c") and ("a", "bc") apart
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


class RatingsStore:
    """Ratings, A/B votes, rating queues and guidelines in one SQLite database.

    Args:
        path: the database file (default `paths.db_path()`); created with its schema on first use.
    """

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path is not None else paths.db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._connections_lock = threading.Lock()
        self._pid = os.getpid()
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    # ----------------------------------------------------------------------------- connections
    def _conn(self) -> sqlite3.Connection:
        """This thread's connection (a forked child opens its own instead of reusing the parent's)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        # isolation_level=None: we open every transaction ourselves (BEGIN IMMEDIATE in _write)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        self._local.conn, self._local.pid = conn, os.getpid()
        with self._connections_lock:
            if self._pid != os.getpid():  # forked: the parent's connections are not ours to close
                self._connections, self._pid = [], os.getpid()
            # Streamlit runs scripts on short-lived threads: close connections whose thread ended,
            # so a long-lived store (st.cache_resource) does not leak one file handle per rerun
            for _, stale in [pair for pair in self._connections if not pair[0].is_alive()]:
                stale.close()
            self._connections = [pair for pair in self._connections if pair[0].is_alive()]
            self._connections.append((threading.current_thread(), conn))
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: BEGIN IMMEDIATE takes the write lock at once (waiting up to the
        busy timeout), then commit on success or roll back on any exception."""
        conn = self._conn()
        with conn:  # commits, or rolls back if the block raises
            conn.execute("BEGIN IMMEDIATE")
            yield conn

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        return self._conn().execute(sql, tuple(params)).fetchall()

    def close(self) -> None:
        """Close every connection this store opened (call when no other thread is using it)."""
        with self._connections_lock:
            for _, conn in self._connections:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._connections.clear()
        self._local = threading.local()

    def _migrate(self) -> None:
        with self._write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(_MIGRATIONS):
                raise StudioError(
                    f"The ratings database {self.path} was written by a newer RLHF Studio "
                    f"(schema {version}, this one knows {len(_MIGRATIONS)}). Update the app."
                )
            for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):  # executescript would COMMIT our transaction
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    # ----------------------------------------------------------------------------- ratings and votes
    def add_rating(self, article: str, headline: str, score: int, rater: str, source: str = "",
                   temperature: float | None = None, item_key: str | None = None, session: str | None = None) -> int:
        """Store a 1-5 star rating and return its id. The same (rater, item) again updates the score
        and returns the same id (see the module docstring). With a `session` token the write is
        journalled, so `undo_last(rater, session)` can take it back."""
        article, headline = _text(article, "article"), _text(headline, "headline")
        score, rater = _score(score), _rater(rater)
        source, temperature = _optional_text(source, "source"), _temperature(temperature)
        key, session = _key(item_key) or rating_key(article, headline), _session(session)
        with self._write() as conn:
            before = self._answer(conn, "rating", "rater = ? AND item_key = ?", (rater, key))
            row = conn.execute(
                """INSERT INTO ratings (article, headline, source, temperature, score, rater, created, item_key)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (rater, item_key) DO UPDATE SET score = excluded.score
                   RETURNING id""",
                (article, headline, source, temperature, score, rater, time.time(), key),
            ).fetchone()
            self._journal(conn, session, rater, "rating", int(row[0]), before)
        return int(row[0])

    def add_vote(self, article: str, headline_a: str, headline_b: str, winner: str, rater: str,
                 source_a: str = "", source_b: str = "", item_key: str | None = None,
                 session: str | None = None) -> int:
        """Store an A/B vote (winner: a, b, tie or both_bad) and return its id. The same (rater,
        pair) again replaces the vote, in the order now shown, and returns the same id. A
        `session` token journals the write for `undo_last`."""
        article = _text(article, "article")
        headline_a, headline_b = _text(headline_a, "headline_a"), _text(headline_b, "headline_b")
        if headline_a == headline_b:
            raise StudioError("Headline A and headline B are identical; there is nothing to compare.")
        if winner not in WINNERS:
            raise StudioError(f"The winner must be one of {', '.join(WINNERS)}, not {winner!r}.")
        rater = _rater(rater)
        source_a, source_b = _optional_text(source_a, "source_a"), _optional_text(source_b, "source_b")
        key, session = _key(item_key) or pair_key(article, headline_a, headline_b), _session(session)
        with self._write() as conn:
            before = self._answer(conn, "vote", "rater = ? AND item_key = ?", (rater, key))
            row = conn.execute(
                """INSERT INTO votes (article, headline_a, headline_b, source_a, source_b, winner, rater, created, item_key)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (rater, item_key) DO UPDATE SET
                       headline_a = excluded.headline_a, headline_b = excluded.headline_b,
                       source_a = excluded.source_a, source_b = excluded.source_b, winner = excluded.winner
                   RETURNING id""",
                (article, headline_a, headline_b, source_a, source_b, winner, rater, time.time(), key),
            ).fetchone()
            self._journal(conn, session, rater, "vote", int(row[0]), before)
        return int(row[0])

    def rate_queued(self, queue_id: int, item_key: str, score: int, rater: str, session: str | None = None) -> int:
        """Rate the star-queue row `queue_id`, the one the rater saw: its id and item key travel
        with the click. Refuses (StudioError) a row that left the queue or holds other text."""
        row = self._queued("queue", queue_id, item_key)
        return self.add_rating(row["article"], row["headline"], score, rater, source=row["source"],
                               temperature=row["temperature"], session=session)

    def vote_queued(self, pair_id: int, item_key: str, winner: str, rater: str, swapped: bool = False,
                    session: str | None = None) -> int:
        """Vote on the A/B-queue row `pair_id` as it was shown: `swapped` = its B headline was shown
        on the left, and `winner` refers to the sides as shown. Refuses a row that left the queue."""
        row = self._queued("pair_queue", pair_id, item_key)
        a, b = ("b", "a") if swapped else ("a", "b")
        return self.add_vote(row["article"], row[f"headline_{a}"], row[f"headline_{b}"], winner, rater,
                             source_a=row[f"source_{a}"], source_b=row[f"source_{b}"], session=session)

    def _queued(self, table: str, row_id: Any, item_key: Any) -> sqlite3.Row:
        try:
            row_id = int(row_id)
        except (TypeError, ValueError):
            raise StudioError("A queue item is named by its id (a whole number).") from None
        rows = self._read(f"SELECT * FROM {table} WHERE id = ?", (row_id,))
        if not rows:
            raise StudioError("This item is no longer in the queue (the owner cleared it); nothing was saved.")
        if rows[0]["item_key"] != item_key:
            raise StudioError("This item changed since it was shown; nothing was saved. Rate the item now shown.")
        return rows[0]

    def undo_last(self, rater: str, session: str) -> dict | None:
        """Take back the newest write this browser `session` made for `rater`: a new rating or vote
        is deleted, a changed one gets its earlier answer back. Returns the undone row as a dict
        with `kind` ("rating" or "vote") and `restored` (True when an earlier answer came back);
        None when this session has nothing (left) to undo. Writes of other sessions, also under
        the same rater name, are never touched; an answer changed since (in another tab) is left
        as it is and that step is dropped."""
        rater, session = _rater(rater), _session(session)
        if session is None:
            raise StudioError("Undo needs the browser session that made the rating.")
        with self._write() as conn:  # read and change under one write lock
            steps = conn.execute("SELECT * FROM undo_log WHERE session = ? AND rater = ? ORDER BY id DESC",
                                 (session, rater)).fetchall()
            for step in steps:
                conn.execute("DELETE FROM undo_log WHERE id = ?", (step["id"],))
                table, columns = _ANSWER[step["kind"]]
                current = conn.execute(f"SELECT * FROM {table} WHERE id = ?", (step["row_id"],)).fetchone()
                if current is None or json.dumps([current[c] for c in columns]) != step["after"]:
                    continue  # changed or removed since: not ours to take back
                if step["before"] is None:
                    conn.execute(f"DELETE FROM {table} WHERE id = ?", (step["row_id"],))
                else:
                    conn.execute(f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?",
                                 (*json.loads(step["before"]), step["row_id"]))
                return dict(current, kind=step["kind"], restored=step["before"] is not None)
        return None

    @staticmethod
    def _answer(conn: sqlite3.Connection, kind: str, where: str, params: tuple) -> str | None:
        """The answer part of a row as JSON (what undo restores), or None when there is no row."""
        table, columns = _ANSWER[kind]
        row = conn.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {where}", params).fetchone()
        return None if row is None else json.dumps(list(row))

    def _journal(self, conn: sqlite3.Connection, session: str | None, rater: str, kind: str, row_id: int,
                 before: str | None) -> None:
        if session is None:
            return
        after = self._answer(conn, kind, "id = ?", (row_id,))
        if after == before:
            return  # a double click changed nothing: nothing to undo either
        conn.execute("INSERT INTO undo_log (session, rater, kind, row_id, before, after, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (session, rater, kind, row_id, before, after, time.time()))

    # ----------------------------------------------------------------------------- queues
    def enqueue(self, items: list[dict]) -> int:
        """Add headlines to the star-rating queue. Each item: article, headline, optional source and
        temperature. An item already queued (same article, headline, source) is ignored.
        Returns how many were newly added. Invalid items reject the whole batch."""
        rows = []
        for number, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise StudioError(f"Queue item {number} is not a dict.")
            article = _text(item.get("article"), f"article of queue item {number}")
            headline = _text(item.get("headline"), f"headline of queue item {number}")
            rows.append((article, headline, _optional_text(item.get("source", ""), "source"),
                         _temperature(item.get("temperature")), time.time(), rating_key(article, headline)))
        with self._write() as conn:
            before = conn.total_changes
            conn.executemany(
                """INSERT OR IGNORE INTO queue (article, headline, source, temperature, created, item_key)
                   VALUES (?, ?, ?, ?, ?, ?)""", rows)
            return conn.total_changes - before

    def enqueue_pairs(self, items: list[dict]) -> int:
        """Add A/B pairs to the vote queue. Each item: article, headline_a, headline_b, optional
        source_a and source_b. Pairs whose two headlines are identical are skipped (nothing to
        compare), as are pairs already queued. Returns how many were newly added."""
        rows = []
        for number, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise StudioError(f"Pair item {number} is not a dict.")
            article = _text(item.get("article"), f"article of pair {number}")
            head_a = _text(item.get("headline_a"), f"headline_a of pair {number}")
            head_b = _text(item.get("headline_b"), f"headline_b of pair {number}")
            if head_a == head_b:
                continue
            rows.append((article, head_a, head_b, _optional_text(item.get("source_a", ""), "source_a"),
                         _optional_text(item.get("source_b", ""), "source_b"), time.time(),
                         pair_key(article, head_a, head_b)))
        with self._write() as conn:
            before = conn.total_changes
            conn.executemany(
                """INSERT OR IGNORE INTO pair_queue (article, headline_a, headline_b, source_a, source_b, created, item_key)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""", rows)
            return conn.total_changes - before

    def next_for_rater(self, rater: str, n: int = 1, skipped: Iterable[int] = ()) -> list[dict]:
        """Up to `n` queued headlines this rater has not rated yet, oldest first, leaving out the
        items of the queue ids in `skipped` (the page's skip list). The same text queued from two
        sources is one item, offered once: a rater judges words, not models."""
        rater, skip = _rater(rater), _ids(skipped)
        rows = self._read(
            f"""SELECT q.* FROM queue q
                WHERE q.id IN (SELECT MIN(id) FROM queue GROUP BY item_key)
                  AND q.item_key NOT IN (SELECT item_key FROM queue WHERE id IN ({_marks(skip)}))
                  AND NOT EXISTS (SELECT 1 FROM ratings r WHERE r.rater = ? AND r.item_key = q.item_key)
                ORDER BY q.id LIMIT ?""",
            (*skip, rater, max(0, int(n))),
        )
        return [dict(r) for r in rows]

    def next_pair_for_rater(self, rater: str, skipped: Iterable[int] = ()) -> dict | None:
        """The oldest queued A/B pair this rater has not voted on (ids in `skipped` left out)."""
        rater, skip = _rater(rater), _ids(skipped)
        rows = self._read(
            f"""SELECT p.* FROM pair_queue p
                WHERE p.item_key NOT IN (SELECT item_key FROM pair_queue WHERE id IN ({_marks(skip)}))
                  AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.rater = ? AND v.item_key = p.item_key)
                ORDER BY p.id LIMIT 1""",
            (*skip, rater),
        )
        return dict(rows[0]) if rows else None

    def queue_progress(self, rater: str, kind: str = "ratings") -> tuple[int, int]:
        """(done, total) over the distinct items of the star queue (kind="ratings") or the A/B
        queue (kind="votes") for this rater: the page's progress bar."""
        rater = _rater(rater)
        queue, answers = {"ratings": ("queue", "ratings"), "votes": ("pair_queue", "votes")}[_kind(kind)]
        row = self._read(
            f"""SELECT COUNT(*) AS total,
                       COALESCE(SUM(EXISTS (SELECT 1 FROM {answers} a WHERE a.rater = ? AND a.item_key = k.item_key)), 0) AS done
                FROM (SELECT DISTINCT item_key FROM {queue}) k""",
            (rater,),
        )[0]
        return int(row["done"]), int(row["total"])

    def clear_queue(self, kind: str = "ratings") -> int:
        """Empty the star queue or the A/B queue (ratings and votes stay). Returns rows removed."""
        table = {"ratings": "queue", "votes": "pair_queue"}[_kind(kind)]
        with self._write() as conn:
            return conn.execute(f"DELETE FROM {table}").rowcount

    # ----------------------------------------------------------------------------- guidelines
    def get_guidelines(self) -> str:
        rows = self._read("SELECT text FROM guidelines WHERE id = 1")
        return rows[0]["text"] if rows else DEFAULT_GUIDELINES

    def set_guidelines(self, text: str) -> None:
        text = _text(text, "guidelines")
        with self._write() as conn:
            conn.execute(
                """INSERT INTO guidelines (id, text, updated) VALUES (1, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET text = excluded.text, updated = excluded.updated""",
                (text, time.time()),
            )

    # ----------------------------------------------------------------------------- reading
    def ratings_frame(self):
        """All ratings as a DataFrame (columns RATING_COLUMNS, oldest first; created in Unix s)."""
        return self._frame("ratings", RATING_COLUMNS)

    def votes_frame(self):
        """All A/B votes as a DataFrame (columns VOTE_COLUMNS, oldest first)."""
        return self._frame("votes", VOTE_COLUMNS)

    def _frame(self, table: str, columns: list[str]):
        import pandas as pd

        rows = self._read(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id")
        return pd.DataFrame([tuple(r) for r in rows], columns=columns)

    def counts_by_rater(self):
        """DataFrame rater, ratings, votes, total (most active first)."""
        import pandas as pd

        rows = self._read(
            """SELECT rater, SUM(is_rating) AS ratings, SUM(1 - is_rating) AS votes, COUNT(*) AS total
               FROM (SELECT rater, 1 AS is_rating FROM ratings UNION ALL SELECT rater, 0 FROM votes)
               GROUP BY rater ORDER BY total DESC, rater"""
        )
        return pd.DataFrame([tuple(r) for r in rows], columns=["rater", "ratings", "votes", "total"])

    def new_since(self, timestamp: float | dt.datetime | None) -> int:
        """How many ratings and votes were created after `timestamp` (Unix seconds or a datetime;
        None counts everything): "N new ratings not yet in the reward model"."""
        if timestamp is None:
            since = float("-inf")
        elif isinstance(timestamp, dt.datetime):
            since = timestamp.timestamp()
        else:
            since = float(timestamp)
        row = self._read(
            """SELECT (SELECT COUNT(*) FROM ratings WHERE created > ?)
                    + (SELECT COUNT(*) FROM votes WHERE created > ?)""",
            (since, since),
        )[0]
        return int(row[0])

    # ----------------------------------------------------------------------------- canonical tables
    def as_ratings_table(self):
        """The ratings in the canonical `ratings` schema (data/schema.py): score = (stars - 1) / 4
        in [0, 1], score_raw = stars, weight 1.0, source 'app:ratings'. One row per rating."""
        import pandas as pd

        from rlhf_core.data.schema import COLUMNS

        frame = self.ratings_frame()
        table = pd.DataFrame({
            "article": frame["article"].astype(str),
            "headline": frame["headline"].astype(str),
            "score": (frame["score"].astype(float) - 1.0) / 4.0,
            "score_raw": frame["score"].astype(float),
            "weight": 1.0,
            "source": "app:ratings",
        })
        return table[COLUMNS["ratings"]].reset_index(drop=True)

    def as_preferences_table(self):
        """A/B votes with a winner in the canonical `preferences` schema: prompt = article, chosen =
        the winner, rejected = the other, margin 0, weight 1.0, source 'app:votes'. Ties and
        both_bad carry no preference and are left out."""
        import pandas as pd

        from rlhf_core.data.schema import COLUMNS

        pairs = self._preference_pairs()
        table = pd.DataFrame(pairs, columns=["prompt", "chosen", "rejected"])
        table["margin"] = 0.0
        table["weight"] = 1.0
        table["source"] = "app:votes"
        return table[COLUMNS["preferences"]].reset_index(drop=True)

    def _preference_pairs(self) -> list[tuple[str, str, str]]:
        rows = self._read("SELECT article, headline_a, headline_b, winner FROM votes WHERE winner IN ('a', 'b') ORDER BY id")
        return [
            (r["article"], r["headline_a"], r["headline_b"]) if r["winner"] == "a"
            else (r["article"], r["headline_b"], r["headline_a"])
            for r in rows
        ]

    # ----------------------------------------------------------------------------- exports
    def export_csv(self, kind: str) -> bytes:
        """`ratings` or `votes` as UTF-8 CSV. Text cells starting with = + - @ tab or CR get a
        leading single quote so a spreadsheet shows them as text instead of running a formula
        (OWASP CSV injection); numbers are written as they are."""
        frame = self._export_frame(kind)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(list(frame.columns))
        for row in frame.itertuples(index=False):
            writer.writerow([_csv_cell(value) for value in row])
        return buffer.getvalue().encode("utf-8")

    def export_jsonl(self, kind: str) -> bytes:
        """`ratings` or `votes` as JSON lines (UTF-8), the same columns as the CSV export."""
        frame = self._export_frame(kind)
        lines = [
            json.dumps({k: _json_value(v) for k, v in zip(frame.columns, row)}, ensure_ascii=False)
            for row in frame.itertuples(index=False)
        ]
        return "".join(line + "\n" for line in lines).encode("utf-8")

    def preferences_jsonl(self) -> bytes:
        """TRL-style preference pairs {prompt, chosen, rejected}, one per A/B vote with a winner."""
        return "".join(
            json.dumps({"prompt": p, "chosen": c, "rejected": r}, ensure_ascii=False) + "\n"
            for p, c, r in self._preference_pairs()
        ).encode("utf-8")

    def _export_frame(self, kind: str):
        frame = self.ratings_frame() if _kind(kind) == "ratings" else self.votes_frame()
        frame.insert(2, "created_utc", [
            dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="seconds") for t in frame["created"]
        ])
        return frame


# --------------------------------------------------------------------------------- validation
def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise StudioError(f"The {what} must be non-empty text.")
    if len(value) > MAX_TEXT_CHARS:
        raise StudioError(f"The {what} is {len(value):,} characters long; the limit is {MAX_TEXT_CHARS:,}.")
    return value.strip()


def _optional_text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise StudioError(f"The {what} must be text.")
    if len(value) > 500:
        raise StudioError(f"The {what} is longer than 500 characters.")
    return value.strip()


def _rater(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise StudioError("Please enter your rater name first.")
    name = value.strip()
    if len(name) > MAX_RATER_CHARS:
        raise StudioError(f"The rater name is {len(name)} characters long; keep it to {MAX_RATER_CHARS}.")
    return name


def _session(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_SESSION_CHARS:
        raise StudioError(f"A session token is text of at most {MAX_SESSION_CHARS} characters.")
    return value


def _score(value: Any) -> int:
    integral = isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not integral or not 1 <= int(value) <= 5:
        raise StudioError(f"A rating must be a whole number of stars from 1 to 5, not {value!r}.")
    return int(value)


def _temperature(value: Any) -> float | None:
    if value is None:
        return None
    try:
        temperature = float(value)
    except (TypeError, ValueError):
        raise StudioError(f"The temperature must be a number, not {value!r}.") from None
    if not math.isfinite(temperature) or temperature < 0:
        raise StudioError(f"The temperature must be a finite number >= 0, not {value!r}.")
    return temperature


def _key(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 200:
        raise StudioError("An item key must be text of at most 200 characters.")
    return value


def _kind(kind: str) -> str:
    if kind not in ("ratings", "votes"):
        raise StudioError(f"Choose 'ratings' or 'votes', not {kind!r}.")
    return kind


def _ids(skipped: Iterable[int]) -> list[int]:
    try:
        return [int(i) for i in (skipped or ())]
    except (TypeError, ValueError):
        raise StudioError("The skip list must hold queue ids (whole numbers).") from None


def _marks(values: list) -> str:
    """`?, ?, ?` placeholders for `x IN (...)`; an empty list becomes an empty sub-select
    (`x IN ()` is not valid SQL, `x IN (SELECT NULL WHERE 0)` is always false)."""
    return ", ".join("?" * len(values)) if values else "SELECT NULL WHERE 0"


def _csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


def _json_value(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalar from pandas
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
