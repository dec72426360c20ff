"""The evaluation machinery on `tiny-init` and a 2-step GRPO run: every metric, the curve, the report, the CLI.

These check the plumbing, not the gain (a 2-step run on random weights gains nothing):
bench/bench_evaluate.py measures that GRPO on `tiny` beats its SFT start.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rlhf_core.evaluation.config import EvalConfig
from rlhf_core.evaluation.policies import label_of, resolve_spec, run_checkpoints, start_of
from rlhf_core.evaluation.run import evaluate, held_out_articles, run_evaluation

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
SMALL = EvalConfig(articles=4, n=2, kl_samples=2, bootstrap=200, leaderboard_rounds=20, curve_articles=3, bon_max_n=8)


def length_reward(articles, headlines):
    """A stand-in reward model: longer headlines score higher (deterministic, no training)."""
    return np.array([min(1.0, len(h.split()) / 12) for h in headlines])


def grpo_run(name: str = "grpo-test") -> Path:
    """A 2-step GRPO run from tiny-init with a checkpoint after each step (final/ = step 2)."""
    from rlhf_core.paths import runs_dir
    from rlhf_core.policy.config import GenerationConfig, GRPOConfig
    from rlhf_core.policy.train import train_policy

    articles = pd.read_csv(SAMPLE / "articles.csv")
    cfg = GRPOConfig(steps=2, lr=1e-3, prompts_per_step=2, group_size=2, save_every=1, sample_every=0, probe_articles=0,
                     generation=GenerationConfig(max_new_tokens=8))
    out = runs_dir() / name
    list(train_policy("grpo", cfg, "tiny-init", length_reward, articles[articles.split == "train"].head(8), out))
    return out


def test_specs_labels_starts_and_checkpoints_of_a_run():
    run = grpo_run()
    assert resolve_spec("run: grpo-test") == resolve_spec("grpo-test") == resolve_spec(str(run)) == str((run / "final").resolve())
    assert label_of(resolve_spec("run: grpo-test")) == "run: grpo-test"  # what the Compare and Rate pages store
    assert label_of(str(run / "checkpoint-1")) == "run: grpo-test/checkpoint-1"
    assert label_of("tiny") == "preset: tiny" and resolve_spec("preset: tiny") == "tiny"
    assert start_of(str(run / "final")) == "tiny-init" and start_of("tiny") is None
    assert [step for step, _ in run_checkpoints("run: grpo-test")] == [1, 2]
    from rlhf_core.errors import StudioError

    with pytest.raises(StudioError):
        resolve_spec("run: ../etc")


def test_held_out_articles_keep_the_test_split_only():
    from rlhf_core.data.loaders import load_file
    from rlhf_core.policy.run import with_split

    loaded = load_file(SAMPLE / "articles.csv")
    table = held_out_articles(with_split(loaded.frame, SAMPLE / "articles.csv"), loaded.kind, 1000)
    raw = pd.read_csv(SAMPLE / "articles.csv")
    assert set(table["article"]) == set(raw.loc[raw.split == "test", "article"]) and len(table) == 80
    assert (table["reference"] != "").all()


def test_evaluate_a_run_against_its_start_with_people_curve_and_report(tmp_path):
    from rlhf_core.store import RatingsStore

    run = grpo_run()
    table = held_out_articles(pd.read_csv(SAMPLE / "articles.csv").assign(split="test"), "articles", SMALL.articles)
    store = RatingsStore()
    for stars, rater in ((5, "ann"), (2, "bob")):
        store.add_rating(table["article"][0], "Some headline", stars, rater, source="run: grpo-test")
    evil = "<script>alert(1)</script>"
    for i, (a, b, winner) in enumerate((("run: grpo-test", "preset: tiny-init", "a"), ("preset: tiny-init", "run: grpo-test", "tie"),
                                        ("run: grpo-test", evil, "b"))):
        store.add_vote(table["article"][i], f"head a {i}", f"head b {i}", winner, rater="ann", source_a=a, source_b=b)
    store.close()

    steps = list(evaluate(SMALL, ["run: grpo-test"], table, reward=length_reward, persona="wire_editor",
                          curve_run="run: grpo-test", out_dir=tmp_path / "out"))
    assert [s["step"] for s in steps] == list(range(0, steps[-1]["total_steps"] + 1))  # progress from 0 to 100%
    results = json.loads((tmp_path / "out" / "results.json").read_text(), parse_constant=pytest.fail)  # strict JSON
    base, grpo = results["policies"]
    assert (base["policy"], base["baseline"], grpo["policy"], grpo["start"]) == \
        ("preset: tiny-init", True, "run: grpo-test", "preset: tiny-init")  # default baseline: the run's own start
    assert base["kl"] is None and grpo["kl"] > 0  # KL to its own starting point, sampled
    assert grpo["headlines"] == SMALL.articles * SMALL.n and 0 <= grpo["rougeL"] <= 1 and 0 <= grpo["gold_mean"] <= 1
    assert (grpo["human_stars_mean"], grpo["human_ratings"]) == (3.5, 2)
    assert (grpo["win_rate_human"], grpo["human_votes"]) == (0.75, 2)  # a win and a tie; the third vote is another pair
    for judge in ("reward", "gold", "human"):
        assert 0 <= grpo[f"win_rate_{judge}_low"] <= grpo[f"win_rate_{judge}"] <= grpo[f"win_rate_{judge}_high"] <= 1
    assert {r["policy"] for r in results["leaderboard"]} == {"run: grpo-test", "preset: tiny-init", evil}
    curve = results["curve"]
    assert [p["step"] for p in curve["rl"]] == [0, 1, 2] and curve["rl"][0]["kl"] == 0 and curve["rl"][2]["kl"] > 0
    assert [p["n"] for p in curve["bon"]] == [1, 2, 4, 8] and curve["bon"][3]["kl"] == pytest.approx(np.log(8) - 7 / 8)
    assert curve["bon"][3]["proxy"] >= curve["bon"][0]["proxy"]  # best-of-8 by the proxy scores at least the average
    assert not curve["too_few_checkpoints"] and set(curve["bon_fit"]) == {"gold", "proxy"}

    headlines = pd.read_csv(tmp_path / "out" / "headlines.csv", keep_default_na=False)
    assert len(headlines) == 2 * SMALL.articles * SMALL.n and set(headlines["policy"]) == {"preset: tiny-init", "run: grpo-test"}
    # the per-policy means are those of rouge-score (stemmer on) and the persona over the headlines written
    from rouge_score import rouge_scorer

    from rlhf_core.data.personas import get_persona

    mine = headlines[headlines["policy"] == "run: grpo-test"]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=True)
    direct = [scorer.score(ref, head) for ref, head in zip(mine["reference"], mine["headline"])]
    assert grpo["rouge1"] == pytest.approx(np.mean([d["rouge1"].fmeasure for d in direct]))
    assert grpo["rougeL"] == pytest.approx(np.mean([d["rougeL"].fmeasure for d in direct]))
    wire = get_persona("wire_editor")
    assert grpo["gold_mean"] == pytest.approx(np.mean([wire.score(a, h) for a, h in zip(mine["article"], mine["headline"])]))
    assert grpo["reward_mean"] == pytest.approx(np.mean(length_reward(None, mine["headline"].tolist())))
    report = (tmp_path / "out" / "report.html").read_text()
    # opens offline: plotly.js inlined, nothing fetched (no <script src=...>, no stylesheet link)
    assert "Plotly.newPlot" in report and "plotly.js v" in report and not re.search(r"<script[^>]*\ssrc=|<link", report)
    assert evil not in report and "&lt;script&gt;alert(1)&lt;/script&gt;" in report  # untrusted text stays text
    assert results["data"]["fingerprint"] in report and "package: torch" in report


def test_a_run_with_only_final_says_it_has_too_few_checkpoints(tmp_path):
    from rlhf_core.paths import runs_dir
    from rlhf_core.policy.config import SFTConfig
    from rlhf_core.policy.train import train_policy

    demos = pd.read_csv(SAMPLE / "expert_demonstrations.csv").head(8).rename(columns={"text": "article", "title": "headline"})
    list(train_policy("sft", SFTConfig(steps=1, lr=1e-3, batch_size=4, sample_every=0, probe_articles=0), "tiny-init",
                      None, demos[["article", "headline"]], runs_dir() / "sft-one"))
    table = held_out_articles(pd.read_csv(SAMPLE / "articles.csv"), "articles", 2)
    results = run_evaluation(EvalConfig(articles=2, n=1, kl_samples=1, curve_articles=2, bon_max_n=2, bootstrap=100),
                             ["run: sft-one"], table, persona="wire_editor", curve_run="run: sft-one")
    assert results["curve"]["too_few_checkpoints"] and results["curve"]["rl_fit"]["gold"] is None
    assert results["curve"]["bon"] is None  # best-of-n needs a reward model to pick with
    assert any("needs at least 2" in note for note in results["notes"])


def test_sampled_kl_matches_the_exact_kl_of_a_one_token_completion():
    """One new token: E_{y ~ pi}[k3] is the exact KL of the two next-token distributions."""
    import copy

    import torch

    from rlhf_core.evaluation.sampling import sample_with_kl
    from rlhf_core.models.registry import load_policy
    from rlhf_core.policy.run import PolicyRun

    bundle = load_policy("tiny-init", cache=False)
    ref = copy.deepcopy(bundle.model)
    with torch.no_grad():
        ref.get_output_embeddings().weight.add_(torch.randn_like(ref.get_output_embeddings().weight) * 0.05)
    article = pd.read_csv(SAMPLE / "articles.csv")["article"][0]
    _, same = sample_with_kl(bundle, bundle.model, [article], 16, 1, seed=0)
    assert np.allclose(same, 0.0, atol=1e-5)  # a policy is at KL 0 from itself
    _, kl = sample_with_kl(bundle, ref, [article], 4000, 1, seed=0)
    run = PolicyRun("t", None, bundle, None, None, torch.device("cpu"))
    ids, mask = run.encode_prompts([article], 1, 256)
    with torch.no_grad():
        logp = torch.log_softmax(bundle.model(input_ids=ids, attention_mask=mask).logits[0, -1].float(), -1)
        logq = torch.log_softmax(ref(input_ids=ids, attention_mask=mask).logits[0, -1].float(), -1)
    exact = float((logp.exp() * (logp - logq)).sum())
    k3 = torch.exp(logq - logp) - (logq - logp) - 1  # (V,) the estimator's value for each possible token
    standard_error = float(((logp.exp() * k3 ** 2).sum() - exact ** 2).sqrt()) / np.sqrt(len(kl))
    assert exact > 0.05 and abs(kl.mean() - exact) < 4 * standard_error  # unbiased: within 4 standard errors


def test_cli_prints_one_json_line_per_policy_and_writes_the_report(tmp_path, capsys):
    from rlhf_core.cli import main

    grpo_run()
    code = main(["evaluate", "--policy", "run: grpo-test", "--data", str(SAMPLE / "articles.csv"), "--persona", "wire_editor",
                 "--articles", "3", "--n", "2", "--kl-samples", "2", "--bootstrap", "200", "--out", str(tmp_path / "cli")])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["policy"] for line in lines[:2]] == ["preset: tiny-init", "run: grpo-test"]
    for key in ("rouge1", "rouge2", "rougeL", "reward_mean", "gold_mean", "kl", "length_mean",
                "win_rate_gold", "win_rate_gold_low", "win_rate_gold_high"):
        assert key in lines[1], key
    assert lines[1]["reward_mean"] is None and lines[1]["kl"] > 0  # no --reward: no proxy score
    assert lines[2]["summary"]["report"] == str(tmp_path / "cli" / "report.html")
    assert (tmp_path / "cli" / "report.html").is_file() and (tmp_path / "cli" / "headlines.csv").is_file()


@pytest.mark.parametrize("argv,message", [
    (["--policy", "tiny-init", "--n", "0"], "n must be between 1 and 64"),
    (["--policy", "tiny-init", "--temperature", "0", "--n", "2"], "Greedy decoding"),
    (["--policy", "tiny-init", "--persona", "nobody"], "unknown persona"),
    (["--policy", "run: nope"], "no policy run 'nope'"),
    (["--policy", "tiny-init", "--reward", "/definitely/not/here"], "not a reward-model folder"),
    ([], "--policy"),
])
def test_cli_bad_arguments_say_error_and_exit_2(argv, message, capsys):
    from rlhf_core.cli import main

    assert main(["evaluate", "--data", str(SAMPLE / "articles.csv"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_headlines_are_sampled_as_in_training_so_a_policy_that_writes_nothing_shows_it():
    """The evaluation samples with the RL loop: a policy whose favourite headline is empty (a reward hack the
    Compare page's generation would hide, since it forbids ending at once) is evaluated on what it writes."""
    import torch

    from rlhf_core.evaluation.sampling import sample_headlines
    from rlhf_core.models.generation import generate_headlines
    from rlhf_core.models.registry import load_policy

    bundle = load_policy("tiny-init", cache=False)
    eos = int(bundle.tokenizer.eos_token_id)
    push = torch.zeros(bundle.model.get_output_embeddings().weight.shape[0])
    push[eos] = 100.0  # end-of-text first, always
    bundle.model.get_output_embeddings().register_forward_hook(lambda module, inputs, logits: logits + push)
    article = pd.read_csv(SAMPLE / "articles.csv")["article"][0]
    assert sample_headlines(bundle, [article], 3, 8, seed=0, temperature=0.7) == [["", "", ""]]
    assert sample_headlines(bundle, [article], 1, 8, seed=0, temperature=0.0) == [[""]]  # greedy too
    assert all(generate_headlines(bundle, [article], temperature=0.7, n=3, max_new_tokens=8)[0])  # Compare: never empty
