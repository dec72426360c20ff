"""Gold personas: properties that make them usable as ground truth for reward models and RL."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rlhf_core.data.personas import (
    PERSONAS,
    extract_features,
    extract_numbers,
    get_persona,
    split_sentences,
    stem,
)
from rlhf_core.data.synth import candidate_headlines, generate_articles
from rlhf_core.errors import StudioError

WIRE, TABLOID, NEUTRAL = PERSONAS["wire_editor"], PERSONAS["tabloid_editor"], PERSONAS["neutral_reader"]


@pytest.fixture(scope="module")
def generated():
    """200 synthetic articles with their candidate headlines (style -> headline)."""
    articles = generate_articles(200, seed=123)
    return [(a, dict(candidate_headlines(a, np.random.default_rng([5, i])))) for i, a in enumerate(articles)]


def _win_rate(persona, generated, better: str, worse: str) -> float:
    pairs = [(a, c) for a, c in generated if better in c and worse in c]
    assert pairs, f"no article has both {better} and {worse}"
    wins = sum(persona.score(a.text, c[better]) > persona.score(a.text, c[worse]) for a, c in pairs)
    return wins / len(pairs)


@pytest.mark.parametrize("worse", ["clickbait", "wrong_number", "wrong_actor", "wrong_direction", "sensational", "vague"])
def test_wire_editor_prefers_accurate_concise(generated, worse):
    assert _win_rate(WIRE, generated, "accurate_concise", worse) >= 0.95


def test_wire_editor_prefers_concise_to_long(generated):
    assert _win_rate(WIRE, generated, "accurate_concise", "accurate_long") >= 0.9


@pytest.mark.parametrize("hype", ["clickbait", "sensational"])
def test_tabloid_editor_prefers_hype(generated, hype):
    assert _win_rate(TABLOID, generated, hype, "accurate_concise") >= 0.95


def test_neutral_reader_sits_between(generated):
    assert _win_rate(NEUTRAL, generated, "accurate_concise", "clickbait") >= 0.95
    assert _win_rate(NEUTRAL, generated, "accurate_concise", "vague") >= 0.95
    # Less strict than the wire editor about a wrong number, stricter than the tabloid about hype.
    gap = lambda p: np.mean([p.score(a.text, c["accurate_concise"]) - p.score(a.text, c["wrong_number"]) for a, c in generated])  # noqa: E731
    assert gap(WIRE) > gap(NEUTRAL) > 0


def test_scores_in_unit_interval_and_deterministic(generated):
    for persona in PERSONAS.values():
        for article, candidates in generated[:40]:
            for headline in candidates.values():
                first = persona.score(article.text, headline)
                assert 0.0 <= first <= 1.0
                assert persona.score(article.text, headline) == first


@pytest.mark.parametrize("headline", ["", "   ", "!!!", "???", "the of and a", "12345", "é ü 中文 🙂", "x" * 5000])
def test_odd_inputs_score_in_range(headline):
    article = "The council approved a $12 million budget on Monday. Mayor Ana Ruiz said it was fair."
    for persona in PERSONAS.values():
        assert 0.0 <= persona.score(article, headline) <= 1.0
        assert 0.0 <= persona.score("", headline) <= 1.0


# Hand-written, real-style pairs: nothing here comes from the generator's templates.
FED = ("The Federal Reserve raised its benchmark interest rate by a quarter of a percentage point on Wednesday, "
       "lifting it to a range of 5.25% to 5.5%, the highest level in 22 years. Fed Chair Jerome Powell said further "
       "increases were possible if inflation stays high. Markets had widely expected the move.")
APPLE = ("Apple said on Thursday that iPhone sales fell 2% in the latest quarter to $39.7 billion, while revenue from "
         "services such as the App Store rose 8%. Chief executive Tim Cook told analysts demand in China had stabilised. "
         "Shares fell 3% in after-hours trading.")
FLOOD = ("Heavy rain caused flooding across Valencia in eastern Spain on Tuesday, killing at least 95 people, officials said. "
         "Emergency services rescued hundreds of residents from their cars and homes. The regional government declared "
         "three days of mourning.")
COUNCIL = ("The Riverton city council voted on Tuesday to approve a $48 million bond to repair the Old Mill Bridge, "
           "which has been closed to trucks since March. Mayor Elena Ortiz said work would start next spring.")
REAL_STYLE = [
    # (article, accurate headlines, wrong-fact headlines, clickbait headlines)
    (FED, ["Fed raises rates by quarter point to 22-year high", "Fed lifts interest rate to highest level in 22 years"],
     ["Fed raises rates to 32-year high", "ECB raises rates by quarter point", "Fed cuts rates by quarter point"],
     ["You won't believe what the Fed just did to your money!", "Interest rates: what you need to know"]),
    (APPLE, ["Apple iPhone sales fall 2% as services revenue rises 8%", "iPhone sales dip 2% to $39.7 billion, Apple says"],
     ["Apple iPhone sales fall 12%", "Samsung iPhone sales fall 2%"],
     ["Is this the end of the iPhone? Apple's SHOCKING numbers revealed"]),
    (FLOOD, ["Valencia floods kill at least 95 in eastern Spain", "At least 95 dead as floods hit Spain's Valencia region"],
     ["Valencia floods kill at least 59", "Floods kill 95 in Portugal"],
     ["Horror in Spain: the terrifying floods everyone is talking about!"]),
    (COUNCIL, ["Riverton approves $48 million bond to repair Old Mill Bridge"],
     ["Riverton rejects $48 million bridge bond", "Riverton approves $84 million bridge bond"],
     ["This town's bridge decision will leave you speechless"]),
]


@pytest.mark.parametrize("article, accurate, wrong, bait", REAL_STYLE)
def test_wire_editor_on_real_style_pairs(article, accurate, wrong, bait):
    for good in accurate:
        for bad in wrong + bait:
            assert WIRE.score(article, good) > WIRE.score(article, bad) + 0.2, (good, bad)
    assert min(WIRE.score(article, good) for good in accurate) >= 0.5


@pytest.mark.parametrize("article, accurate, wrong, bait", REAL_STYLE)
def test_tabloid_editor_on_real_style_pairs(article, accurate, wrong, bait):
    assert min(TABLOID.score(article, b) for b in bait) > max(TABLOID.score(article, g) for g in accurate)


def test_degenerate_outputs_are_penalised():
    article, good = FLOOD, "Valencia floods kill at least 95 in eastern Spain"
    first_sentence = split_sentences(article)[0]
    base = WIRE.score(article, good)
    assert WIRE.score(article, "") == 0.0
    assert WIRE.score(article, "floods floods floods floods floods floods") < base / 3
    assert WIRE.score(article, first_sentence) < base / 2
    assert WIRE.score(article, " ".join([good] * 5)) < base / 3  # very long and repetitive
    assert WIRE.score(article, good + " " + " ".join(f"word{i}" for i in range(30))) < base / 2


def test_partial_credit_is_smooth():
    """More of the article's facts -> higher score, step by step (a gradient for RL)."""
    ladder = ["Spain news", "Floods in Spain", "Floods in Valencia, Spain", "Valencia floods kill at least 95 in eastern Spain"]
    scores = [WIRE.score(FLOOD, h) for h in ladder]
    assert scores == sorted(scores) and len(set(scores)) == len(scores), scores
    # One of two numbers wrong sits between both right and both wrong.
    right = WIRE.score(APPLE, "iPhone sales fall 2% as services grow 8%")
    half = WIRE.score(APPLE, "iPhone sales fall 2% as services grow 18%")
    wrong = WIRE.score(APPLE, "iPhone sales fall 12% as services grow 18%")
    assert right > half > wrong


def test_rate_is_noisy_bucketed_and_seeded():
    article, headline = FLOOD, "Floods in Valencia, Spain"
    ratings = [WIRE.rate(article, headline, np.random.default_rng(seed)) for seed in range(300)]
    assert set(ratings) <= {1, 2, 3, 4, 5} and len(set(ratings)) >= 2  # noise moves some ratings
    rng_a, rng_b = np.random.default_rng(9), np.random.default_rng(9)
    assert [WIRE.rate(article, headline, rng_a) for _ in range(20)] == [WIRE.rate(article, headline, rng_b) for _ in range(20)]
    assert 1 <= WIRE.rate(article, headline, random.Random(3)) <= 5  # the stdlib generator works too
    good = np.mean([WIRE.rate(article, "Valencia floods kill at least 95 in eastern Spain", np.random.default_rng(s)) for s in range(100)])
    bad = np.mean([WIRE.rate(article, "You won't believe these floods!", np.random.default_rng(s)) for s in range(100)])
    assert good >= 4.0 and bad <= 1.5


def test_get_persona_lists_valid_names():
    assert get_persona("tabloid_editor") is TABLOID
    with pytest.raises(StudioError, match="neutral_reader, tabloid_editor, wire_editor"):
        get_persona("wire-editor")
    for persona in PERSONAS.values():
        assert persona.description and persona.name in PERSONAS


def test_feature_extraction_helpers():
    assert extract_numbers("$4.5 million") == [4.5e6]
    assert extract_numbers("$4.5m") == [4.5e6]
    assert extract_numbers("rose 12%") == extract_numbers("rose 12 percent") == [12.0]
    assert extract_numbers("1,200 jobs and three plants") == [1200.0, 3.0]
    assert stem("raises") == stem("raised") == stem("raising") != stem("rose") == stem("rises") == stem("rise")
    assert split_sentences("St. Mary's Hospital opened. Dr. Lee spoke! Then 5 left.") == [
        "St. Mary's Hospital opened.", "Dr. Lee spoke!", "Then 5 left."]
    f = extract_features(APPLE, "Samsung iPhone sales fall 12%!")
    assert f.number_support == 0.0 and f.entity_support < 1.0 and f.exclamations == 1
    assert extract_features(FED, "Fed cuts rates by a quarter point").contradictions == 1
    # A lead that goes both ways ("sales fell ... services rose") proves no contradiction.
    assert extract_features(APPLE, "Apple iPhone sales rise 2%").contradictions == 0
