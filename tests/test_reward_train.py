"""Reward-model data handling, a 2-step `tiny` training run, checkpoints, cancel, quick mode."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from rlhf_core.paths import sample_data_dir
from rlhf_core.reward.config import RewardConfig
from rlhf_core.reward.data import (
    clean_ratings, encode, load_training_files, pairs_from_ratings, plan_batches, prepare_splits, split_by_article,
)
from rlhf_core.reward.scorer import META_FILE, clear_scorer_cache, load_backbone, load_scorer
from rlhf_core.reward.train import train_reward

TINY = dict(backbone="tiny", batch_size=16, max_length=64, val_fraction=0.3, seed=0)


@pytest.fixture(scope="module")
def _module_home(tmp_path_factory):
    return tmp_path_factory.mktemp("reward_home")


@pytest.fixture(autouse=True)
def _share_model_cache(_module_home, monkeypatch):
    """One data directory for this module, so the tiny tokenizer is trained once, not once per test."""
    monkeypatch.setenv("RLHF_STUDIO_HOME", str(_module_home))


@pytest.fixture(scope="module")
def realstyle():
    ratings, _, info = load_training_files([sample_data_dir() / "realstyle_headlines.csv"])
    assert info["scale"] == [1.0, 5.0]
    return ratings


def _ratings(rows):
    return pd.DataFrame(rows, columns=["article", "headline", "score"]).assign(score_raw=np.nan, weight=1.0, source="t")


def test_pairs_from_ratings_use_score_gap_and_skip_ties():
    ratings = _ratings([("A", "good", 1.0), ("A", "ok", 0.5), ("A", "also ok", 0.5), ("B", "x", 0.0), ("", "no article", 1.0)])
    pairs = pairs_from_ratings(ratings)
    # good > ok and good > also ok; the tie, the lone headline of B and the article-less row give none
    assert set(zip(pairs.chosen, pairs.rejected)) == {("good", "ok"), ("good", "also ok")}
    assert pairs.margin.tolist() == [0.5, 0.5] and (pairs.prompt == "A").all()


def test_clean_ratings_merges_duplicates_and_weights_expert_rows():
    ratings = _ratings([("A", " h ", 1.0), ("A", "h", 0.5), ("A", "g", 0.0)])
    ratings.loc[2, "source"] = "expert_news_data.csv"
    clean = clean_ratings(ratings, expert_weight=2.0)
    assert len(clean) == 2
    assert clean.set_index("headline").loc["h", "score"] == pytest.approx(0.75)
    assert clean.set_index("headline").loc["g", "weight"] == 2.0


def test_split_by_article_has_no_leakage(realstyle):
    pairs = pairs_from_ratings(realstyle)
    train_r, val_r, train_p, val_p = split_by_article(realstyle, pairs, 0.3, seed=1)
    assert not set(train_r.article) & set(val_r.article)
    assert not set(train_p.prompt) & set(val_r.article)
    assert len(train_r) + len(val_r) == len(realstyle) and len(val_r) > 0


def test_encode_truncates_the_article_not_the_headline():
    _, tokenizer = load_backbone("tiny")
    article, headline = "word " * 300, "Council approves $48 million bridge bond"
    enc = encode(tokenizer, [article], [headline], max_length=32)
    ids = enc["input_ids"][0].tolist()
    assert len(ids) == 32
    head_ids = tokenizer(headline, add_special_tokens=False)["input_ids"]
    sep = tokenizer.sep_token_id
    assert ids[-len(head_ids) - 1:-1] == head_ids and ids[-1] == sep


def test_fact_checks_follow_the_headline_in_words():
    from rlhf_core.reward.checks import checks_text

    article = "Riverton's council voted on Tuesday to approve a $48 million bond for the Old Mill Bridge."
    assert checks_text(article, "Riverton council approves $48 million bond", version=1) == \
        "checks: numbers 1 of 1 in article, names 0 of 0 in article"
    assert checks_text(article, "Council in Jasenen approves $84 million bond", version=1) == \
        "checks: numbers 0 of 1 in article, names 0 of 1 in article"  # a wrong number and a town never named
    # version 2 (today's models) also says whether the article reverses a direction word or a magnitude word
    assert checks_text(article, "Riverton council approves $48 million bond") == \
        "checks: numbers 1 of 1 in article, names 0 of 0 in article, directions consistent, magnitudes consistent"
    assert checks_text(article, "Riverton council rejects $48 million bond").endswith("directions reversed, magnitudes consistent")
    assert checks_text(article, "Riverton doubles bridge bond").endswith("magnitudes unsupported")
    _, tokenizer = load_backbone("tiny")
    headline = "Council approves $48 million bridge bond"
    ids = encode(tokenizer, ["word " * 300], [headline], max_length=96, checks=2)["input_ids"][0].tolist()
    tail = tokenizer(f"{headline} {tokenizer.sep_token} {checks_text('word ' * 300, headline)}",
                     add_special_tokens=False)["input_ids"]
    assert len(ids) == 96 and ids[-len(tail) - 1:-1] == tail  # the article is cut, headline and checks are whole


def test_batches_keep_pairs_with_their_texts(realstyle):
    splits = prepare_splits(realstyle, None, val_fraction=0.2, seed=0)
    plan = plan_batches(splits.train_ratings, splits.train_pairs, "both", 8, 2, np.random.default_rng(0))
    assert {epoch for epoch, _ in plan} == {1, 2}
    for _, batch in plan:
        assert len(batch.point_idx) == len(batch.targets) and len(batch.chosen_idx) == len(batch.margins)
        assert max(batch.point_idx + batch.chosen_idx + batch.rejected_idx) < len(batch)
    n_points = sum(len(b.point_idx) for e, b in plan if e == 1)
    assert n_points == len(splits.train_ratings)


def test_two_step_tiny_run_changes_params_and_saves_a_plain_checkpoint(realstyle, tmp_path):
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    before, _ = load_backbone("tiny")  # same seed inside the registry: the starting weights
    rows = list(train_reward(RewardConfig(**TINY, max_steps=2, eval_every=1), realstyle, None, tmp_path))
    steps = [r for r in rows if "summary" not in r]
    assert [r["step"] for r in steps] == [1, 2] and all(r["total_steps"] == 2 for r in steps)
    for row in steps:
        for key in ("loss/train", "loss/val", "optim/lr", "eval/spearman", "eval/pairwise_accuracy"):
            assert math.isfinite(row[key]), key
    summary = rows[-1]["summary"]
    assert summary["steps"] == 2 and summary["stopped"] == "max_steps"
    folder = tmp_path / "model"
    meta = json.loads((folder / META_FILE).read_text())
    assert meta["format"] == "full" and meta["score_scale"] == [1.0, 5.0] and len(meta["data_fingerprint"]) == 16
    assert meta["fact_checks"] is True  # the default: the model reads the headline's fact checks after it
    assert meta["fact_checks_version"] == 2  # ... as checks_text writes them today
    assert (folder / "model.safetensors").exists() and not list(tmp_path.glob(".model.*"))
    after = AutoModelForSequenceClassification.from_pretrained(folder)  # plain transformers
    changed = [n for n, p in after.named_parameters() if not torch.equal(p, before.state_dict()[n])]
    assert changed and "classifier.weight" in changed

    # round trip: the scorer's reward is sigmoid(logit) of the plain model on the same (article, headline) pair
    scorer = load_scorer(tmp_path)
    assert load_scorer(tmp_path) is scorer  # cached per folder
    articles, headlines = realstyle.article[:5].tolist(), realstyle.headline[:5].tolist()
    got = scorer.score(articles, headlines, batch_size=2)
    with torch.no_grad():
        logits = after(**encode(scorer.tokenizer, articles, headlines, meta["max_length"], checks=2)).logits.squeeze(-1)
    np.testing.assert_allclose(got, torch.sigmoid(logits).numpy(), rtol=1e-4, atol=1e-6)
    assert ((got > 0) & (got < 1)).all()

    # a model saved before versions (fact_checks true, no version) still reads the checks it was trained with: v1
    clear_scorer_cache()
    (folder / META_FILE).write_text(json.dumps({k: v for k, v in meta.items() if k != "fact_checks_version"}))
    with torch.no_grad():
        v1 = after(**encode(scorer.tokenizer, articles, headlines, meta["max_length"], checks=1)).logits.squeeze(-1)
    np.testing.assert_allclose(load_scorer(tmp_path).score(articles, headlines, batch_size=2), torch.sigmoid(v1).numpy(),
                               rtol=1e-4, atol=1e-6)
    clear_scorer_cache()


def test_a_model_trained_without_fact_checks_is_scored_without_them(realstyle, tmp_path):
    from transformers import AutoModelForSequenceClassification

    list(train_reward(RewardConfig(**TINY, max_steps=2, fact_checks=False), realstyle, None, tmp_path))
    meta = json.loads((tmp_path / "model" / META_FILE).read_text())
    assert meta["fact_checks"] is False
    plain = AutoModelForSequenceClassification.from_pretrained(tmp_path / "model")
    scorer = load_scorer(tmp_path)
    articles, headlines = realstyle.article[:4].tolist(), realstyle.headline[:4].tolist()
    with torch.no_grad():
        without = plain(**encode(scorer.tokenizer, articles, headlines, meta["max_length"])).logits.squeeze(-1)
        with_checks = plain(**encode(scorer.tokenizer, articles, headlines, meta["max_length"], checks=True)).logits.squeeze(-1)
    got = scorer.score(articles, headlines)
    np.testing.assert_allclose(got, torch.sigmoid(without).numpy(), rtol=1e-4, atol=1e-6)
    assert not np.allclose(got, torch.sigmoid(with_checks).numpy())  # the checks change what the model reads
    clear_scorer_cache()


def test_cancel_leaves_a_loadable_checkpoint(realstyle, tmp_path):
    run = train_reward(RewardConfig(**TINY, max_steps=50, eval_every=1), realstyle, None, tmp_path)
    first = next(run)
    run.close()  # what the job runner does on cancel
    meta = json.loads((tmp_path / "model" / META_FILE).read_text())
    assert first["step"] == 1 and meta["stopped"] == "cancelled" and meta["steps_done"] == 1
    assert load_scorer(tmp_path).score(["a"], ["b"]).shape == (1,)
    assert not list(tmp_path.glob(".model.*"))


def test_quick_mode_trains_and_scores(realstyle, tmp_path):
    from rlhf_core.reward.quick import clear_embedder_cache

    clear_embedder_cache()
    cfg = RewardConfig(**TINY, quick=True, quick_head_steps=40, eval_every=10)
    rows = list(train_reward(cfg, realstyle, None, tmp_path))
    assert [r for r in rows if r.get("phase") == "embedding"][-1]["embed/total"] == 73  # 14 articles + 59 headlines
    again = list(train_reward(cfg, realstyle, None, tmp_path / "again"))  # new ratings would only embed new texts
    assert not [r for r in again if r.get("phase") == "embedding"]
    assert again[-1]["summary"]["eval/spearman"] == pytest.approx(rows[-1]["summary"]["eval/spearman"])
    train_rows = [r for r in rows if "loss/train" in r]
    assert train_rows and train_rows[-1]["loss/train"] < train_rows[0]["loss/train"]
    assert all(math.isfinite(r["loss/val"]) for r in train_rows if "loss/val" in r)
    meta = json.loads((tmp_path / "model" / META_FILE).read_text())
    assert meta["format"] == "quick" and (tmp_path / "model" / "head.safetensors").exists()
    assert (tmp_path / "model" / "encoder").is_dir()  # the random tiny encoder travels with the head
    scores = load_scorer(tmp_path / "model").score(realstyle.article.tolist(), realstyle.headline.tolist())
    assert scores.shape == (len(realstyle),) and ((scores > 0) & (scores < 1)).all()
    assert np.ptp(scores) > 0


def test_reader_checks_catch_wrong_facts_in_any_wording():
    from rlhf_core.reward.checks import N_READER, magnitude_claims, reader_checks

    article = ("Construction began on 2,150 new homes in the province in August, down 18 percent from a year earlier, "
               "according to figures released on Wednesday by the statistics office. Builders blamed higher borrowing costs.")
    right = reader_checks(article, "Provincial housing starts fall 18 percent in August")
    other = reader_checks(article, "Housing starts drop 18% to 2,150 in August")  # the same facts, other rendering
    number = reader_checks(article, "Provincial housing starts fall 81 percent in August")
    direction = reader_checks(article, "Provincial housing starts rise 18 percent in August")
    magnitude = reader_checks(article, "Housing starts double in August as borrowing costs bite")
    bait = reader_checks(article, "You won't believe what happened to housing!")
    assert right.shape == (N_READER,) and right[0] == 0.0 and other[0] == 0.0 and other[3] == 0.0  # every number found
    assert number[0] < -2 and number[3] == 1.0  # log(0.1): the one number is wrong
    assert direction[2] == 1.0 and right[2] == 0.0  # 'rise' against the lead's 'down'
    assert magnitude[5] == 1.0 and right[5] == 0.0
    assert bait[8] >= 1 and bait[12] == 1 and bait[13] == 1 and right[8] == 0  # clickbait phrase, 'you', '!'
    # 'nearly doubled' borne out by the figures or by the article's own word
    assert magnitude_claims("Arabica closed at $4.10 a pound, against $2.15 a year ago.", "Coffee prices nearly double") == 0
    assert magnitude_claims("Coffee prices have nearly doubled.", "Coffee prices double") == 0
    assert magnitude_claims("Sales rose 100 percent.", "Sales doubled") == 0
    assert magnitude_claims("Sales rose 12 percent to 50 units.", "Sales triple to 50 units") == 1


def test_subject_contradictions_read_the_whole_article_about_the_same_thing():
    from rlhf_core.reward.checks import reader_checks, subject_contradictions

    # the lead goes both ways (jobs cut, output up), so the lead-only check proves nothing; the second sentence
    # says what happened to the price
    article = ("Larkfield Foods cut 120 jobs on Monday while output at its main plant rose 4%. "
               "The company also said the price of its bread will stay unchanged at $2.40 until March.")
    assert subject_contradictions(article, "Larkfield Foods cuts 120 jobs as output rises") == 0
    assert subject_contradictions(article, "Larkfield keeps bread price at $2.40") == 0
    assert subject_contradictions(article, "Larkfield raises bread price to $2.40") == 1  # a freeze, not a rise
    assert subject_contradictions(article, "Larkfield Foods adds 120 jobs") == 1  # 'cut' said of the jobs
    assert subject_contradictions(article, "Larkfield output falls 4%, 120 jobs cut") == 1
    assert reader_checks(article, "Larkfield raises bread price to $2.40")[2] == 1.0  # the reader check takes it
    # a direction said of something else is no contradiction: the wages are not the output
    assert subject_contradictions("Output rose 4% at the plant. Wages fell.", "Plant wages fall") == 0


def test_reversals_read_magnitude_words_joined_names_and_swapped_roles():
    from rlhf_core.reward.checks import (checks_text, fact_sets, lead_contradictions, reader_checks, reversed_directions,
                                         subject_contradictions, swapped_roles)

    # 'halve' is a direction: wrong where the article says the prices doubled
    coffee = "Cocoa prices have nearly doubled over the past year after storms hit harvests, traders said on Friday."
    assert lead_contradictions(coffee, "Cocoa prices halve as harvests recover") == 1
    assert lead_contradictions(coffee, "Cocoa prices nearly double in a year") == 0
    # 'without raising fees' is said of the fees, not of the budget the council cut
    budget = ("The council cut the parks budget by 5 percent on Monday. Members said the cut was needed to balance "
              "the budget without raising fees.")
    assert subject_contradictions(budget, "Council raises parks budget 5%") == 1
    assert subject_contradictions(budget, "Council cuts parks budget 5%") == 0
    # names joined by a dash are the article's two names
    merger = "The tribunal on Tuesday blocked the merger of grocers Alder and Birchwood, citing higher prices."
    assert fact_sets(merger, "Tribunal blocks Alder-Birchwood merger")[1] == {"alder", "birchwood"}
    joined = reader_checks(merger, "Tribunal blocks Alder-Birchwood merger")
    assert joined[1] == 0.0 and joined[4] == 0.0  # log name support 0: every name found
    assert reader_checks(merger, "Tribunal blocks Alder-Corvin merger")[4] > 0
    # who did what to whom
    deal = "Harlow Steel agreed on Tuesday to buy its smaller rival Denton Metals for $900 million in cash."
    assert swapped_roles(deal, "Denton Metals to buy Harlow Steel for $900 million") == 1
    assert swapped_roles(deal, "Harlow Steel to buy Denton Metals for $900 million") == 0
    assert swapped_roles(deal, "Harlow Steel and Denton Metals agree $900 million deal") == 0  # no role word between
    vote = "Former teacher Mira Holt was elected mayor of Ostend on Sunday, defeating the incumbent Sam Pryce."
    assert swapped_roles(vote, "Sam Pryce defeats Mira Holt in Ostend mayoral race") == 1
    assert swapped_roles(vote, "Mira Holt defeats Sam Pryce to become Ostend mayor") == 0
    assert reversed_directions(deal, "Denton Metals to buy Harlow Steel") == 1
    assert reader_checks(deal, "Denton Metals to buy Harlow Steel")[2] == 1.0
    assert "directions reversed" in checks_text(deal, "Denton Metals to buy Harlow Steel")
    assert "directions consistent" in checks_text(deal, "Harlow Steel to buy Denton Metals")


def test_reversals_read_verdicts_schedules_budgets_and_who_won():
    from rlhf_core.reward.checks import (lead_contradictions, reversed_directions, subject_contradictions, swapped_roles,
                                         wrong_cause, wrong_winner)

    # outcomes that are not ups and downs
    trial = ("A jury in Corley on Friday acquitted the former harbour master, Ivo Brandt, of taking bribes from "
             "shipping agents. Prosecutors said they would not appeal.")
    assert lead_contradictions(trial, "Former Corley harbour master convicted of taking bribes") == 1
    assert lead_contradictions(trial, "Former Corley harbour master acquitted of bribery") == 0
    tunnel = ("The Elmside rail tunnel opened on Monday, fourteen months behind schedule and 40 million pounds over "
              "budget, the transport authority said.")
    assert lead_contradictions(tunnel, "Elmside rail tunnel opens on time and under budget") == 2
    assert lead_contradictions(tunnel, "Elmside rail tunnel opens 14 months late, over budget") == 0
    dig = "Archaeologists resumed the excavation at Tarn Hill on Tuesday after winter storms had halted work."
    assert subject_contradictions(dig, "Tarn Hill excavation suspended") == 1  # the halt was the storms', before
    assert subject_contradictions(dig, "Tarn Hill excavation resumes after storms") == 0
    talks = "Talks on a new water-sharing treaty between Oska and Belle collapsed on Friday without agreement."
    assert lead_contradictions(talks, "Oska and Belle sign water-sharing treaty") == 1
    # a direction word after a negation or a refusal in its clause is not said
    denial = ("The ports authority of Dunlow on Thursday denied reports that it had approved a second container "
              "terminal, saying no permit had been signed.")
    assert subject_contradictions(denial, "Dunlow approves second container terminal") == 1
    assert subject_contradictions(denial, "Dunlow denies approving second container terminal") == 0
    # who won: the runner-up the article names is not the winner
    race = ("Swimmer Lina Osei won the 400 metres freestyle at the Varna championships on Sunday, ahead of "
            "the defending champion Kate Moreau.")
    assert wrong_winner(race, "Kate Moreau wins 400m freestyle title in Varna") == 1
    assert wrong_winner(race, "Lina Osei wins 400m freestyle title, beating Kate Moreau") == 0
    assert wrong_winner(race, "Tom Hale wins 400m freestyle title in Varna") == 0  # a name it never mentions: the name check's
    board = "Shareholders of Corrin Bank elected Ada Mensah as chair on Thursday, ahead of the bank's deputy chair Paul Greer."
    assert wrong_winner(board, "Paul Greer elected Corrin Bank chair") == 1
    assert wrong_winner(board, "Ada Mensah elected Corrin Bank chair") == 0
    appointed = "The Corrin Bank has appointed Ada Mensah as its chair. She was chosen over Paul Greer."
    assert wrong_winner(appointed, "Corrin Bank appoints Ada Mensah chair") == 0  # 'has appointed' is active
    assert wrong_winner(appointed, "Corrin Bank appoints Paul Greer chair") == 1
    tender = "The port of Kell awarded a ten-year dredging contract to Marlow Marine on Monday, rejecting a bid from Osk Dredging."
    assert wrong_winner(tender, "Kell awards dredging contract to Osk Dredging") == 1
    assert wrong_winner(tender, "Kell awards dredging contract to Marlow Marine") == 0
    # a headline's passive reads either way round: 'Mensah elected Corrin Bank chair' is not a swap of 'Corrin Bank elected Mensah'
    assert swapped_roles(board, "Ada Mensah elected Corrin Bank chair") == 0
    ruling = "A court in Pell ordered Arden Foods to pay its former supplier Brisk Farms 2 million dollars on Monday."
    assert swapped_roles(ruling, "Brisk Farms ordered to pay Arden Foods 2 million dollars") == 1
    assert reversed_directions(race, "Kate Moreau wins 400m freestyle title in Varna") == 1
    # a cause the article gives for something else
    ferry = ("The Kinross ferry service was suspended on Wednesday after a fire in the engine room of its only vessel. "
             "The crew's pay dispute, settled last week, played no part, the operator said.")
    assert wrong_cause(ferry, "Kinross ferry service suspended over crew pay dispute") == 1
    assert wrong_cause(ferry, "Kinross ferry service suspended after engine room fire") == 0
    assert wrong_cause(ferry, "Kinross ferry suspended after two weeks of storms") == 0  # a cause it never mentions
    assert wrong_cause("Flights resumed after 400 were cancelled over two days.", "Airline cancels over 400 flights") == 0


def test_a_figure_the_article_gives_for_something_else_is_a_wrong_fact():
    from rlhf_core.reward.checks import reversed_directions, wrong_number_role

    budget = ("Spending on school buildings in Harrowgate will rise 18 percent next year, the council said on Tuesday, "
              "as it repairs roofs at nine primary schools. Road maintenance spending will fall 4 percent. "
              "Council tax goes up 3 percent from April.")
    assert wrong_number_role(budget, "Harrowgate school building spending to rise 4 percent next year") == 1
    assert wrong_number_role(budget, "Harrowgate school building spending to rise 18 percent next year") == 0
    # two figures of one unit, each in its own clause with its own subject
    assert wrong_number_role(budget, "Harrowgate school spending up 18 percent, roads down 4 percent") == 0
    assert wrong_number_role(budget, "Harrowgate council tax up 3 percent as school repairs begin") == 0
    assert wrong_number_role(budget, "Harrowgate school building spending to rise 25 percent") == 0  # the number check's
    # a unit the article gives one value in is not contested
    assert wrong_number_role(budget, "Harrowgate repairs roofs at nine primary schools, spending up 18 percent") == 0
    relay = ("Team Norland won the relay on Saturday in 3 minutes 12 seconds, finishing 6 seconds ahead of the hosts. "
             "Their time beat the championship record set in 2009 by 2 seconds.")
    assert wrong_number_role(relay, "Norland win relay by 2 seconds ahead of hosts") == 1
    assert wrong_number_role(relay, "Norland win relay by 6 seconds, beating championship record") == 0
    assert reversed_directions(relay, "Norland win relay by 2 seconds ahead of hosts") == 1


def test_the_lead_rule_is_the_personas_own_where_no_magnitude_word_is_used():
    """lead_contradictions extends the personas' count_contradictions with magnitude and outcome words and nothing else."""
    import pandas as pd

    from rlhf_core.data.personas import count_contradictions, split_sentences, tokenize
    from rlhf_core.paths import sample_data_dir
    from rlhf_core.reward.checks import MAGNITUDE_DIRECTIONS, lead_contradictions

    rows = pd.read_csv(sample_data_dir() / "train_ratings.csv").head(600)
    magnitude = tuple(w[:4] for words in MAGNITUDE_DIRECTIONS for w in words)
    checked = 0
    for article, headline in zip(rows.article, rows.headline):
        if any(w[:4] in headline.lower() for w in magnitude):
            continue
        persona = count_contradictions(split_sentences(article)[0], tokenize(headline))
        assert lead_contradictions(article, headline) == persona, headline
        checked += persona > 0
    assert checked >= 5  # the sample has reversed headlines, and both rules agree on them


def test_quick_model_with_and_without_reader_checks_scores(realstyle, tmp_path):
    """The reader checks are a setting recorded with the head: a model made without them still loads and scores."""
    for reader in (True, False):
        cfg = RewardConfig(**TINY, quick=True, quick_head_steps=20, eval_every=10, quick_reader_checks=reader)
        list(train_reward(cfg, realstyle, None, tmp_path / str(reader)))
        meta = json.loads((tmp_path / str(reader) / "model" / META_FILE).read_text())
        assert meta["reader_checks"] is reader
        scores = load_scorer(tmp_path / str(reader) / "model").score(realstyle.article.tolist(), realstyle.headline.tolist())
        assert scores.shape == (len(realstyle),) and np.ptp(scores) > 0


def test_a_blind_quick_model_is_unmoved_by_the_checks_it_left_out(realstyle, tmp_path):
    """The lesson's blind reward model: the broken-text checks held at zero in training and in scoring (saved with the
    head), so two headlines that differ only in what those checks measure get the same features from them."""
    from rlhf_core.reward.checks import BROKEN_TEXT_CHECKS, READER_CHECKS
    from rlhf_core.reward.quick import QuickModel

    leave_out = ", ".join(BROKEN_TEXT_CHECKS)
    cfg = RewardConfig(**TINY, quick=True, quick_head_steps=20, eval_every=10, quick_leave_out_checks=leave_out)
    list(train_reward(cfg, realstyle, None, tmp_path))
    meta = json.loads((tmp_path / "model" / META_FILE).read_text())
    assert meta["reader_left_out"] == leave_out
    model = QuickModel.load(tmp_path / "model", meta)
    assert model.leave_out == leave_out
    article, headline = realstyle.article.iloc[0], realstyle.headline.iloc[0]
    broken = " ".join([headline] * 3)  # long and repetitive: every left-out check would see it
    full = model.embedder.features([article] * 2, [headline, broken], reader=True)
    blind = model.embedder.features([article] * 2, [headline, broken], reader=True, leave_out=leave_out)
    tail = full.shape[1] - len(READER_CHECKS)
    left = [tail + READER_CHECKS.index(n) for n in BROKEN_TEXT_CHECKS]
    assert np.ptp(full[:, left], axis=0).max() > 0  # the full checks tell the two apart
    assert np.all(blind[:, left] == 0) and np.array_equal(np.delete(blind, left, 1), np.delete(full, left, 1))
    with pytest.raises(Exception, match="unknown reader check 'lenght'"):
        RewardConfig(**TINY, quick=True, quick_leave_out_checks="lenght")


def test_alignment_features_flag_unsupported_tokens():
    from rlhf_core.reward.quick import N_ALIGN, alignment_features

    eye = np.eye(4, dtype=np.float32)  # 4 orthogonal unit "token states"
    article, a_ids = eye[:3], np.array([10, 11, 12])
    supported = alignment_features(article, a_ids, eye[:2], np.array([10, 11]))
    unsupported = alignment_features(article, a_ids, eye[[0, 3]], np.array([10, 13]))  # token 13 is not in the article
    assert supported.shape == (N_ALIGN,)
    np.testing.assert_allclose(supported, [1, 1, 1, 0, 0, 1])
    np.testing.assert_allclose(unsupported, [0.5, 0, 0.5, 0.5, 0.5, 0.5])


def test_surface_features_check_numbers_and_names_against_the_article():
    from rlhf_core.reward.quick import N_SURFACE, surface_features

    article = "Riverton council approved a $48 million bond on Tuesday, Mayor Elena Ortiz said."
    right = surface_features(article, "Riverton council approves $48 million bond")
    wrong = surface_features(article, "Riverton council approves $84 million bond")  # a number the article never states
    actor = surface_features(article, "Council in Jasenen approves $48 million bond")  # a town the article never names
    shout = surface_features(article, "You WON'T believe what Riverton did!")
    stub = surface_features(article, "Riverton Riverton")
    assert right.shape == (N_SURFACE,)
    assert right[1] == 0.0 and stub[1] == pytest.approx(np.log1p(3))  # words outside 5-12: 0, and 3 too few
    assert right[2] == 1.0 and wrong[2] == 0.0  # share of the headline's numbers found in the article
    assert right[3] == 1.0 and actor[3] == 0.0 and shout[3] == 0.5  # names after the first word: WON'T no, Riverton yes
    assert right[4] == pytest.approx(np.log1p(1)) and wrong[4] == 0.0  # numbers and names found: 48 / none
    assert shout[5] == 1.0 and right[5] == 0.0 and shout[7] == pytest.approx(1 / 6) and right[7] == 0.0
    assert stub[8] == 0.5 and right[8] == 0.0  # share of repeated words
    assert shout[9] == 1.0 and right[9] == 0.0  # addresses the reader


def test_embedding_store_round_trip_and_merge(tmp_path):
    from rlhf_core.reward.quick import EmbeddingStore, text_key

    store = EmbeddingStore(tmp_path / "emb", max_shards=2)
    rng = np.random.default_rng(0)
    entry = lambda n: (rng.random(4, dtype=np.float32), rng.random((n, 4)).astype(np.float16), np.arange(n, dtype=np.int32))  # noqa: E731
    first = {text_key("a", 64): entry(3), text_key("b", 128): entry(0)}  # a text may have no real tokens
    store.save(first)
    store.save({text_key("c", 64): entry(2)})
    loaded = store.load()
    assert set(loaded) == set(first) | {text_key("c", 64)} and text_key("a", 64) != text_key("a", 128)
    for key, (pooled, tokens, ids) in first.items():
        np.testing.assert_array_equal(loaded[key][0], pooled)
        np.testing.assert_array_equal(loaded[key][1], tokens)
        np.testing.assert_array_equal(loaded[key][2], ids)
    store.save({text_key("d", 64): entry(1)})  # a third shard: all merged into one
    assert len(list((tmp_path / "emb").glob("shard-*.npz"))) == 1 and len(store.load()) == 4


def test_embedder_reuses_embeddings_persisted_on_disk(tmp_path):
    from rlhf_core.reward.quick import Embedder, EmbeddingStore, text_key

    model, tokenizer = load_backbone("tiny")
    articles, headlines = ["The bridge over the river reopened on Monday after repairs."] * 2, ["Bridge reopens", "SHOCK: bridge!"]
    first = Embedder(model.base_model, tokenizer, 64, article_length=8, store=EmbeddingStore(tmp_path))
    x = first.features(articles, headlines)  # (2, D)
    jobs = first.jobs(articles, headlines)
    assert len(jobs) == 3 and first.cache[text_key(articles[0], 8)][2].size <= 8  # the article is cut to 8 tokens
    first.persist(jobs)
    second = Embedder(model.base_model, tokenizer, 64, article_length=8, store=EmbeddingStore(tmp_path))  # a new process
    assert second.missing(jobs) == []
    np.testing.assert_allclose(second.features(articles, headlines), x, rtol=1e-6)


def test_int8_encoder_embeds_like_float32_and_keeps_its_own_cache():
    from rlhf_core.reward.quick import Embedder, embedding_store, quantize_int8

    model, tokenizer = load_backbone("tiny")
    texts = ["Riverton council approves $48 million bond", "You won't believe what Riverton did!"]
    exact = Embedder(model.base_model, tokenizer, 64)(texts)  # (2, H)
    int8 = quantize_int8(model.base_model)
    assert int8 is not None and any("quantized" in type(m).__module__ for m in int8.modules())
    approx = Embedder(int8, tokenizer, 64)(texts)  # (2, H), L2-normalised like exact
    cosine = (exact * approx).sum(1)
    assert (cosine > 0.98).all() and not np.allclose(exact, approx)  # close, yet really computed in int8
    assert embedding_store("minilm", 4, True).folder != embedding_store("minilm", 4, False).folder


def test_an_int8_embedding_does_not_depend_on_the_other_texts_in_its_batch():
    """Dynamic int8 quantisation scales activations per batch: the embedder runs one text at a time,
    so a headline scores the same alone, among others, during training and during GRPO."""
    from rlhf_core.reward.quick import Embedder, quantize_int8

    model, tokenizer = load_backbone("tiny")
    int8 = quantize_int8(model.base_model)
    texts = ["Riverton council approves $48 million bond", "", "You won't believe what Riverton did!!! " * 8]
    together = Embedder(int8, tokenizer, 64)
    together.int8 = True
    alone = Embedder(int8, tokenizer, 64)
    alone.int8 = True
    batch = together(texts)  # (3, H)
    singles = np.stack([alone([t])[0] for t in texts[::-1]])[::-1]  # (3, H), other order, one call each
    assert np.array_equal(batch, singles)
