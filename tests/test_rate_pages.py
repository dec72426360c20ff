"""AppTests of the Compare and Rate pages, and 8 concurrent raters through the page's queue calls."""

from __future__ import annotations

import threading
import zlib
from pathlib import Path

from streamlit.testing.v1 import AppTest

from rlhf_core.store import RatingsStore
from ui import rater as keys

ARTICLE = ("The city council of Riverton voted 7 to 2 on Tuesday to approve a $49 million plan "
           "to rebuild the Main Street bridge, mayor Ana Diaz said.")
TIMEOUT = 120
ROOT = Path(__file__).resolve().parent.parent


def _texts(at) -> list[str]:
    return [t.value for t in at.text]


def _button(at, prefix: str, suffix: str):
    """The one button drawn now whose key starts with `prefix` and ends with `suffix` (keys name the item)."""
    found = [b for b in at.button if b.key and b.key.startswith(prefix) and b.key.endswith(suffix)]
    assert len(found) == 1, [b.key for b in at.button]
    return found[0]


def _star(at, stars: int):
    return _button(at, keys.RATE_STARS, f"_{stars}")


def late_click(at, stale) -> None:
    """Deliver a click on a button drawn in an EARLIER run (a double click, or a key press that
    reaches the server after the rerun), as the browser sends it: a trigger for that widget's id."""
    states = at._tree.get_widget_states()
    kept = [w for w in states.widgets if w.id != stale.id]
    del states.widgets[:]
    states.widgets.extend(kept)
    stale.click()
    states.widgets.append(stale._widget_state)
    at._run(states)


def _rate_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages/rate.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def test_star_rating_lands_in_the_store_skip_and_undo(studio_home):
    store = RatingsStore()
    store.enqueue([{"article": ARTICLE, "headline": h, "source": "tiny", "temperature": 0.7}
                   for h in ("Council approves bridge plan", "Bridge vote shocks town", "Riverton spends $49m")])
    at = _rate_page()
    assert not [b for b in at.button if b.key.startswith(keys.RATE_STARS)]  # no rating before a name
    at.text_input(key=keys.RATE_RATER).input("alice").run()
    assert "Council approves bridge plan" in _texts(at)
    assert at.session_state[keys.RATE_RATER_NAME] == "alice"

    _star(at, 4).click().run()
    assert not at.exception, at.exception
    frame = store.ratings_frame()
    assert frame[["rater", "headline", "score", "source"]].values.tolist() == [
        ["alice", "Council approves bridge plan", 4, "tiny"]]
    assert "Bridge vote shocks town" in _texts(at)  # the next item, never the rated one again
    assert "Council approves bridge plan" not in _texts(at)

    _button(at, keys.RATE_SKIP, "").click().run()
    assert "Riverton spends $49m" in _texts(at) and len(store.ratings_frame()) == 1

    at.button(key=keys.RATE_UNDO).click().run()
    assert store.ratings_frame().empty  # undo removed it from the database
    assert "Council approves bridge plan" in _texts(at)  # ... and it is back in alice's queue
    assert at.session_state[keys.RATE_RATER_NAME] == "alice"
    assert at.query_params["rater"] in ("alice", ["alice"])  # a browser refresh keeps the name

    refreshed = AppTest.from_file(str(ROOT / "pages/rate.py"), default_timeout=TIMEOUT)
    refreshed.query_params["rater"] = "alice"
    refreshed.run()
    assert refreshed.text_input(key=keys.RATE_RATER).value == "alice"
    assert "Council approves bridge plan" in _texts(refreshed)


def test_ab_vote_reveals_the_models_only_after_the_vote(studio_home):
    store = RatingsStore()
    store.enqueue_pairs([{"article": ARTICLE, "headline_a": "Council approves $49 million bridge plan",
                          "headline_b": "You won't believe this bridge!", "source_a": "model-rlhf",
                          "source_b": "model-base"}])
    at = _rate_page()
    at.text_input(key=keys.RATE_RATER).input("bob").run()
    at.radio(key=keys.RATE_MODE).set_value("Blind A/B").run()
    shown = [t for t in _texts(at) if t in ("Council approves $49 million bridge plan", "You won't believe this bridge!")]
    assert len(shown) == 2
    everything = " ".join(_texts(at) + [m.value for m in at.markdown] + [str(d.value) for d in at.dataframe])
    assert "model-rlhf" not in everything and "model-base" not in everything  # blind before the vote

    _button(at, keys.RATE_VOTE, "_a").click().run()
    assert not at.exception, at.exception
    votes = store.votes_frame()
    assert len(votes) == 1 and votes.loc[0, "winner"] == "a" and votes.loc[0, "rater"] == "bob"
    assert votes.loc[0, "headline_a"] == shown[0]  # the vote refers to the side as shown
    reveal = at.dataframe[0].value
    assert reveal["headline"].tolist() == shown
    writer = dict(zip(reveal["headline"], reveal["written by"]))
    assert writer["Council approves $49 million bridge plan"] == "model-rlhf"
    assert writer["You won't believe this bridge!"] == "model-base"
    assert any("Your vote" in s.value for s in at.success)

    at.button(key=keys.RATE_UNDO).click().run()
    assert store.votes_frame().empty


def test_a_late_second_click_never_rates_the_next_item(studio_home):
    """Double click / key press delivered after the rerun: it lands on the item the rater saw."""
    store = RatingsStore()
    store.enqueue([{"article": ARTICLE, "headline": h, "source": "tiny"} for h in ("Seen first", "Never seen", "Third")])
    at = _rate_page()
    at.text_input(key=keys.RATE_RATER).input("alice").run()
    clicked = _star(at, 3)
    clicked.click().run()  # the first click: rates "Seen first", the page moves on to "Never seen"
    assert "Never seen" in _texts(at)
    late_click(at, clicked)  # the second click of the double click arrives now
    assert not at.exception, at.exception
    frame = store.ratings_frame()
    assert frame[["headline", "score"]].values.tolist() == [["Seen first", 3]]  # the next item is untouched
    assert "Never seen" in _texts(at)

    store.enqueue_pairs([{"article": ARTICLE, "headline_a": "Pair one A", "headline_b": "Pair one B"},
                         {"article": ARTICLE, "headline_a": "Pair two A", "headline_b": "Pair two B"}])
    at.radio(key=keys.RATE_MODE).set_value("Blind A/B").run()
    verdict = _button(at, keys.RATE_VOTE, "_tie")
    verdict.click().run()
    late_click(at, verdict)
    votes = store.votes_frame()
    assert len(votes) == 1 and set(votes[["headline_a", "headline_b"]].iloc[0]) == {"Pair one A", "Pair one B"}


def test_undo_in_another_browser_cannot_remove_alices_ratings(studio_home):
    """?rater=alice in a second browser: Undo there finds nothing of alice's to take back."""
    store = RatingsStore()
    store.enqueue([{"article": ARTICLE, "headline": h, "source": "tiny"} for h in ("One", "Two")])
    alice = _rate_page()
    alice.text_input(key=keys.RATE_RATER).input("alice").run()
    _star(alice, 5).click().run()
    _star(alice, 4).click().run()
    intruder = AppTest.from_file(str(ROOT / "pages/rate.py"), default_timeout=TIMEOUT)
    intruder.query_params["rater"] = "alice"
    intruder.run()
    for _ in range(3):
        intruder.button(key=keys.RATE_UNDO).click().run()
    assert not intruder.exception, intruder.exception
    assert sorted(store.ratings_frame()["score"].tolist()) == [4, 5]
    assert any("Nothing to undo" in t.body for t in intruder.toast)
    alice.button(key=keys.RATE_UNDO).click().run()  # alice's own undo still works
    assert store.ratings_frame()["score"].tolist() == [5]


def test_owner_sees_guidelines_editor_agreement_and_exports(studio_home):
    store = RatingsStore()
    for rater, stars in (("ann", [5, 1, 4, 2]), ("ben", [4, 2, 5, 1])):
        for (article, headline), s in zip([(ARTICLE, "good one"), (ARTICLE, "bad one"),
                                           ("Storm closes schools in Dunmore.", "Storm shuts Dunmore schools"),
                                           ("Storm closes schools in Dunmore.", "Weather news")], stars):
            store.add_rating(article, headline, s, rater)
    store.add_vote(ARTICLE, "good one", "bad one", "a", "ann", "rlhf", "base")
    at = _rate_page()
    assert at.text_area(key=keys.RATE_GUIDELINES_EDIT).value == store.get_guidelines()
    at.text_area(key=keys.RATE_GUIDELINES_EDIT).input("Only accuracy matters.").run()
    at.button(key=keys.RATE_GUIDELINES_SAVE).click().run()
    assert RatingsStore().get_guidelines() == "Only accuracy matters."
    labels = {m.label: m.value for m in at.metric}
    assert labels["Ratings / votes"] == "8 / 1"
    assert float(labels["Krippendorff's alpha (stars, ordinal)"]) > 0.5
    assert labels["New ratings not in the reward model"] == "8"
    assert len(at.get("download_button")) == 5

    # Flow back: the quick retrain runs as a background job; afterwards nothing is "new" any more.
    at.selectbox(key=keys.RATE_RETRAIN_BACKBONE).set_value("tiny").run()
    at.button(key=keys.RATE_RETRAIN_GO).click().run()
    assert not at.exception, at.exception
    from ui.services import job_runner

    run_id = at.session_state[keys.RATE_RETRAIN_RUN]
    info = job_runner().wait(run_id, timeout=120)
    assert info.status == "succeeded", info.error
    at.run()
    labels = {m.label: m.value for m in at.metric}
    assert labels["New ratings not in the reward model"] == "0"
    assert labels["Current reward model"] == run_id
    store.add_rating(ARTICLE, "a third headline", 3, "ann")
    at.run()
    assert {m.label: m.value for m in at.metric}["New ratings not in the reward model"] == "1"


def _tiny_policy_run(studio_home) -> str:
    """A 'trained policy run' folder holding the tiny-init model, as the Compare page lists runs."""
    from rlhf_core.models.registry import load_policy
    from rlhf_core.paths import runs_dir

    bundle = load_policy("tiny-init")
    final = runs_dir() / "ppo-test" / "final"
    bundle.model.save_pretrained(final)
    bundle.tokenizer.save_pretrained(final)
    return "run: ppo-test"


def test_compare_page_grid_is_reproducible_and_fills_the_rating_queue(studio_home):
    label = _tiny_policy_run(studio_home)
    at = AppTest.from_file(str(ROOT / "pages/compare.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    at.radio(key=keys.CMP_ARTICLE_SOURCE).set_value("Paste an article")
    at.run()
    at.text_area(key=keys.CMP_PASTED).input(ARTICLE)
    at.multiselect(key=keys.CMP_POLICIES).set_value([label])
    at.multiselect(key=keys.CMP_TEMPERATURES).set_value([0.3, 1.3])
    at.selectbox(key=keys.CMP_PERSONA).set_value("wire_editor")
    at.run()
    at.button(key=keys.CMP_GENERATE).click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    grid = at.dataframe[0].value
    assert len(grid) == 4 and set(grid["temperature"]) == {0.3, 1.3}
    assert grid["gold"].between(0, 1).all()
    diversity = at.dataframe[1].value
    assert diversity["temperature"].tolist() == [0.3, 1.3]

    at.button(key=keys.CMP_GENERATE).click().run()  # same seed, same grid
    assert at.dataframe[0].value["headline"].tolist() == grid["headline"].tolist()

    at.button(key=keys.CMP_SEND).click().run()
    assert not at.exception, at.exception
    queued = RatingsStore().next_for_rater("carol", n=100)
    assert {q["headline"] for q in queued} == {h.strip() for h in grid["headline"] if h.strip()}
    assert {q["source"] for q in queued} == {label}

    # The Rate page builds a queue on demand from the same policy and synthetic articles.
    rate = _rate_page()
    rate.multiselect(key=keys.RATE_QUEUE_POLICIES).set_value([label])
    rate.number_input(key=keys.RATE_QUEUE_ARTICLES).set_value(2)
    rate.run()
    rate.button(key=keys.RATE_QUEUE_GO).click().run()
    assert not rate.exception and not rate.error, (rate.exception, [e.value for e in rate.error])
    store = RatingsStore()
    assert store.queue_progress("carol")[1] >= len(queued) + 2  # two articles x up to two new headlines
    pair = store.next_pair_for_rater("carol")
    assert pair is not None and pair["source_a"] == pair["source_b"] == label


def test_eight_concurrent_raters_lose_nothing(studio_home):
    """8 raters x 200 items, each thread doing what the Rate page does: next item, rate it."""
    store = RatingsStore()
    store.enqueue([{"article": f"article {i // 4}", "headline": f"headline {i}", "source": "p"} for i in range(200)])
    errors = []

    def rate_all(rater: str) -> None:
        try:
            while True:
                item = store.next_for_rater(rater, 1)
                if not item:
                    return
                stars = 1 + zlib.crc32(f"{rater}{item[0]['headline']}".encode()) % 5
                store.add_rating(item[0]["article"], item[0]["headline"], stars, rater, source="p")
                store.add_rating(item[0]["article"], item[0]["headline"], stars, rater, source="p")  # double click
        except Exception as exc:  # collected: a thread must not die silently
            errors.append(exc)

    threads = [threading.Thread(target=rate_all, args=(f"rater{k}",)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    fresh = RatingsStore()  # a new connection sees every committed row
    frame = fresh.ratings_frame()
    assert len(frame) == 8 * 200
    assert not frame.duplicated(["rater", "headline"]).any()
    assert fresh.counts_by_rater()["ratings"].tolist() == [200] * 8
    assert all(fresh.queue_progress(f"rater{k}") == (200, 200) for k in range(8))
