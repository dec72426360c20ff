"""The synthetic newsroom: determinism, facts carried by the text, headline styles, dataset files."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rlhf_core.data.personas import PERSONAS, extract_numbers, split_sentences
from rlhf_core.data.synth import STYLES, TOPICS, candidate_headlines, generate_articles, write_dataset
from rlhf_core.paths import sample_data_dir

CORE_STYLES = {"accurate_concise", "accurate_long", "vague", "clickbait", "sensational", "wrong_number", "wrong_actor"}
FILES = {"train_ratings.csv", "test_ratings.csv", "train_preferences.jsonl", "test_preferences.jsonl",
         "expert_demonstrations.csv", "articles.csv", "train_data.txt"}


def _read_all(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in sorted(FILES)}


def test_generate_articles_is_deterministic_and_prefix_stable():
    a, b = generate_articles(50, seed=3), generate_articles(50, seed=3)
    assert a == b
    assert generate_articles(10, seed=3) == a[:10]
    other = generate_articles(50, seed=4)
    assert [x.text for x in other] != [x.text for x in a]
    assert len({x.article_id for x in a}) == 50


def test_articles_are_varied_and_state_their_facts():
    articles = generate_articles(300, seed=1)
    assert {a.topic for a in articles} == set(TOPICS)
    assert len({a.text for a in articles}) == 300
    assert len({a.facts["who"] for a in articles}) > 250  # names come from syllable tables, rarely repeat
    for a in articles:
        assert 3 <= len(split_sentences(a.text)) <= 6, a.text
        assert a.facts["place"] in a.text and a.facts["who"].lower() in a.text.lower()
        assert any(abs(v - a.facts["number"] * (1e6 if a.facts["number_kind"] == "money" else 1)) < 1e-6
                   for v in extract_numbers(a.text)), (a.facts, a.text)
        # The reference headline is accurate: all its numbers are in the article.
        article_numbers = extract_numbers(a.text)
        assert all(any(abs(v - w) < 1e-6 * max(1, w) for w in article_numbers) for v in extract_numbers(a.reference))
        assert "\t" not in a.reference and "\n" not in a.text


def test_candidate_headlines_styles():
    articles = generate_articles(120, seed=2)
    seen = Counter()
    for i, article in enumerate(articles):
        candidates = candidate_headlines(article, np.random.default_rng(i))
        styles = [s for s, _ in candidates]
        assert CORE_STYLES <= set(styles) and styles == [s for s in STYLES if s in styles]
        assert candidates == candidate_headlines(article, np.random.default_rng(i))  # same rng seed, same headlines
        h = dict(candidates)
        seen.update(h.keys())
        stated = extract_numbers(article.text)
        wrong = extract_numbers(h["wrong_number"])
        assert wrong and not any(abs(v - s) < 1e-6 * max(1, s) for v in wrong for s in stated), h["wrong_number"]
        # wrong_actor names someone (or somewhere) the article never mentions.
        new_names = [w for w in h["wrong_actor"].split() if w[:1].isupper() and w.strip("'s,").lower() not in article.text.lower()]
        assert new_names, (h["wrong_actor"], article.text)
        assert len(h["accurate_long"].split()) > len(h["accurate_concise"].split())
        assert len(set(h.values())) == len(h)  # eight different headlines
    assert seen["wrong_direction"] > 20


def test_write_dataset_is_byte_reproducible(tmp_path):
    first = write_dataset(tmp_path / "a", "wire_editor", 40, seed=11)
    write_dataset(tmp_path / "b", "wire_editor", 40, seed=11)
    write_dataset(tmp_path / "c", "wire_editor", 40, seed=12)
    assert set(first) == FILES and all(Path(p).exists() for p in first.values())
    a, b, c = _read_all(tmp_path / "a"), _read_all(tmp_path / "b"), _read_all(tmp_path / "c")
    assert a == b
    assert all(a[name] != c[name] for name in FILES)
    for data in a.values():
        assert b"\r\n" not in data
        data.decode("utf-8")


def test_write_dataset_contents(tmp_path):
    write_dataset(tmp_path, "tabloid_editor", 50, seed=5, test_fraction=0.2)
    articles = list(csv.DictReader(io.StringIO((tmp_path / "articles.csv").read_text("utf-8"))))
    assert list(articles[0]) == ["article_id", "article", "reference", "split", "topic"]
    assert Counter(r["split"] for r in articles) == {"train": 40, "test": 10}

    ratings = list(csv.DictReader(io.StringIO((tmp_path / "train_ratings.csv").read_text("utf-8"))))
    assert list(ratings[0]) == ["article", "headline", "score", "style", "persona", "article_id"]
    assert {int(r["score"]) for r in ratings} <= {1, 2, 3, 4, 5} and len({r["score"] for r in ratings}) >= 3
    assert {r["persona"] for r in ratings} == {"tabloid_editor"}
    train_ids = {r["article_id"] for r in articles if r["split"] == "train"}
    assert {r["article_id"] for r in ratings} == train_ids
    mean = lambda style: np.mean([int(r["score"]) for r in ratings if r["style"] == style])  # noqa: E731
    assert mean("clickbait") > mean("accurate_concise") + 1  # the tabloid persona's taste

    prefs = [json.loads(line) for line in (tmp_path / "train_preferences.jsonl").read_text("utf-8").splitlines()]
    assert prefs and all({"prompt", "chosen", "rejected", "margin"} <= set(p) for p in prefs)
    judge = PERSONAS["tabloid_editor"]
    for p in prefs:
        assert p["chosen"] != p["rejected"] and p["margin"] >= 0.05
        assert judge.score(p["prompt"], p["chosen"]) - judge.score(p["prompt"], p["rejected"]) == pytest.approx(p["margin"], abs=1e-3)

    experts = list(csv.DictReader(io.StringIO((tmp_path / "expert_demonstrations.csv").read_text("utf-8"))))
    assert list(experts[0]) == ["text", "title", "score", "is_expert"] and len(experts) == 40
    lines = (tmp_path / "train_data.txt").read_text("utf-8").splitlines()
    assert len(lines) == len(ratings) and all(len(line.split("\t")) == 2 and line.split("\t")[1] in "12345" for line in lines)


def test_personas_share_articles_but_not_ratings(tmp_path):
    write_dataset(tmp_path / "w", "wire_editor", 30, seed=8)
    write_dataset(tmp_path / "t", "tabloid_editor", 30, seed=8)
    assert (tmp_path / "w/articles.csv").read_bytes() == (tmp_path / "t/articles.csv").read_bytes()
    assert (tmp_path / "w/train_ratings.csv").read_bytes() != (tmp_path / "t/train_ratings.csv").read_bytes()


def test_written_files_load_with_the_data_layer(tmp_path):
    from rlhf_core.data.loaders import load_file

    write_dataset(tmp_path, "wire_editor", 20, seed=4)
    assert load_file(tmp_path / "train_ratings.csv").kind == "ratings"
    assert load_file(tmp_path / "train_preferences.jsonl").kind == "preferences"
    assert load_file(tmp_path / "articles.csv").kind == "articles"
    loaded = load_file(tmp_path / "train_data.txt")
    assert loaded.kind == "ratings" and loaded.frame["score"].between(0, 1).all()


def test_shipped_sample_data_regenerates_byte_for_byte(tmp_path):
    """`python -m rlhf_core data synth --persona wire_editor --articles 400 --seed 7 --out sample_data`."""
    write_dataset(tmp_path, "wire_editor", 400, seed=7)
    assert _read_all(tmp_path) == _read_all(sample_data_dir())


def test_excluded_styles_leave_a_blind_spot_and_the_other_ratings_unchanged(tmp_path):
    write_dataset(tmp_path / "all", "wire_editor", 30, seed=8)
    write_dataset(tmp_path / "blind", "wire_editor", 30, seed=8, exclude_styles=("truncated", "repetitive"))
    rows = lambda name: list(csv.DictReader(io.StringIO((tmp_path / name / "train_ratings.csv").read_text("utf-8"))))  # noqa: E731
    full, blind = rows("all"), rows("blind")
    assert {r["style"] for r in blind} == {r["style"] for r in full} - {"truncated", "repetitive"}
    assert blind == [r for r in full if r["style"] not in ("truncated", "repetitive")]  # same stars for the rest
    prefs = [json.loads(line) for line in (tmp_path / "blind/train_preferences.jsonl").read_text("utf-8").splitlines()]
    assert prefs and not {"truncated", "repetitive"} & {p[k] for p in prefs for k in ("chosen_style", "rejected_style")}
    with pytest.raises(ValueError, match="unknown style"):
        write_dataset(tmp_path / "bad", "wire_editor", 5, seed=8, exclude_styles=("boring",))


def test_shipped_rl_prompts_regenerate_byte_for_byte_and_are_not_rated_articles(tmp_path):
    """`python -m rlhf_core data prompts --articles 2400 --seed 8 --out sample_data/rl_prompts.csv`."""
    from rlhf_core.data.loaders import load_file
    from rlhf_core.data.synth import write_prompts

    write_prompts(tmp_path / "p.csv", 2400, seed=8)
    shipped = sample_data_dir() / "rl_prompts.csv"
    assert (tmp_path / "p.csv").read_bytes() == shipped.read_bytes()
    prompts = list(csv.DictReader(io.StringIO(shipped.read_text("utf-8"))))
    rated = {r["article"] for r in csv.DictReader(io.StringIO((sample_data_dir() / "articles.csv").read_text("utf-8")))}
    assert len(prompts) == 2400 and all(r["article_id"].startswith("p") for r in prompts)
    assert not rated & {r["article"] for r in prompts}  # RL prompts are never the held-out (or rated) articles
    assert load_file(shipped).kind == "articles"
