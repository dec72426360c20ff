"""Sampling: seeds, temperature, greedy decoding, nucleus filter, stopping at the end of a headline."""

from __future__ import annotations

import os

import pytest
import torch

from rlhf_core.models import registry
from rlhf_core.models.generation import (
    SeededSampler,
    generate_grid,
    generate_headlines,
    generate_rows,
    nucleus_filter,
    stop_token_ids,
)
from rlhf_core.models.prompts import build_prompt

ARTICLES = [
    "The Springfield city council voted 7 to 2 on Tuesday to approve a $42 million budget for road repairs.",
    "Researchers at Lakeside University reported a new battery that charges in nine minutes.",
]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """One random tiny GPT-2 for the whole module (its tokenizer trained once, in its own home)."""
    old = os.environ.get("RLHF_STUDIO_HOME")
    os.environ["RLHF_STUDIO_HOME"] = str(tmp_path_factory.mktemp("gen_home"))
    try:
        return registry.load_policy("tiny-init", cache=False)
    finally:
        if old is None:
            os.environ.pop("RLHF_STUDIO_HOME", None)
        else:
            os.environ["RLHF_STUDIO_HOME"] = old


def test_same_seed_same_headlines_other_seed_others(bundle):
    a = generate_headlines(bundle, ARTICLES, temperature=1.0, n=3, seed=7, max_new_tokens=12)
    torch.rand(5)  # the global RNG moving on must not matter: sampling uses its own generator
    b = generate_headlines(bundle, ARTICLES, temperature=1.0, n=3, seed=7, max_new_tokens=12)
    c = generate_headlines(bundle, ARTICLES, temperature=1.0, n=3, seed=8, max_new_tokens=12)
    assert len(a) == 2 and all(len(row) == 3 for row in a)
    assert a == b
    assert a != c
    assert len(set(a[0])) > 1  # samples of one article differ


def test_greedy_at_zero_matches_a_manual_argmax_loop(bundle):
    model, tok = bundle.model, bundle.tokenizer
    result = generate_rows(bundle, ARTICLES[:1], [0.0], n=2, max_new_tokens=8, seed=3)
    assert result.text[0] == result.text[1]  # greedy: every sample is the same
    eos_ids, newline_ids = stop_token_ids(tok, model)
    ids = tok(build_prompt(bundle, ARTICLES[0], max_new_tokens=8), return_tensors="pt")["input_ids"]  # (1, T)
    prompt_length, new = ids.shape[1], []
    with torch.no_grad():
        for step in range(8):
            logits = model(ids).logits[0, -1]  # (V,)
            if step == 0:
                logits[eos_ids + newline_ids] = float("-inf")  # the first token may not end the headline
            token = int(logits.argmax())
            if token in eos_ids or token in newline_ids:
                break
            new.append(token)
            ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
    assert ids.shape[1] > prompt_length
    assert result.text[0] == tok.decode(new, skip_special_tokens=True)
    assert result.n_tokens[0] == len(new)


def test_temperature_changes_the_samples(bundle):
    cold = generate_headlines(bundle, ARTICLES[:1], temperature=1e-4, n=4, seed=1, max_new_tokens=10)[0]
    hot = generate_headlines(bundle, ARTICLES[:1], temperature=2.0, n=4, seed=1, max_new_tokens=10)[0]
    greedy = generate_headlines(bundle, ARTICLES[:1], temperature=0.0, n=1, max_new_tokens=10)[0][0]
    assert len(set(cold)) == 1 and cold[0] == greedy  # T -> 0 approaches greedy
    assert len(set(hot)) == 4


def test_grid_rows(bundle):
    rows = generate_grid(bundle, ARTICLES[0], [0.3, 0.7, 1.0, 1.3], n=2, seed=0, max_new_tokens=6)
    assert [(r["temperature"], r["sample"]) for r in rows] == [(t, s) for t in (0.3, 0.7, 1.0, 1.3) for s in (0, 1)]
    assert all(0 < r["n_tokens"] <= 6 and r["seconds"] >= 0 and isinstance(r["headline"], str) for r in rows)
    assert rows == [dict(r, seconds=rows[i]["seconds"]) for i, r in
                    enumerate(generate_grid(bundle, ARTICLES[0], [0.3, 0.7, 1.0, 1.3], n=2, seed=0, max_new_tokens=6))]


def test_stops_at_a_newline(bundle):
    """A model rigged to always predict a newline writes exactly one token, then stops."""
    import copy

    rigged = copy.deepcopy(bundle)
    tok = rigged.tokenizer
    newline = tok.convert_tokens_to_ids("\u010a")  # byte-level BPE's "\n"
    embedding = rigged.model.transformer.wte.weight  # tied with the output layer
    with torch.no_grad():  # every position's final hidden state points at the newline's embedding
        rigged.model.transformer.ln_f.weight.zero_()
        rigged.model.transformer.ln_f.bias.copy_(200 * embedding[newline] / embedding[newline].norm())
    result = generate_rows(rigged, ARTICLES, [0.0, 1.0], n=1, max_new_tokens=10)
    assert result.n_tokens == [1, 1, 1, 1]
    assert all("\n" not in text and text for text in result.text)


def test_sampler_and_nucleus_on_hand_made_logits():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))  # (1, 4)
    kept = nucleus_filter(logits, 0.7)
    assert torch.isfinite(kept).tolist() == [[True, True, False, False]]  # 0.5 + 0.3 >= 0.7
    assert torch.isfinite(nucleus_filter(logits, 0.5)).tolist() == [[True, False, False, False]]
    assert torch.equal(nucleus_filter(logits, 1.0), logits)

    gen = torch.Generator().manual_seed(0)
    scores = logits.repeat(2000, 1)  # (B, V)
    sampler = SeededSampler(torch.full((2000,), 1.0), 1.0, gen, prompt_length=3, begin_banned=[])
    out = sampler(torch.zeros(2000, 5, dtype=torch.long), scores.clone())  # (B, V) one-hot in log space
    picks = out.argmax(dim=-1)
    assert torch.isfinite(out).sum(dim=-1).eq(1).all()
    freq = torch.bincount(picks, minlength=4).float() / 2000
    assert torch.allclose(freq, torch.tensor([0.5, 0.3, 0.15, 0.05]), atol=0.04)  # T = 1: the model's own distribution

    sampler = SeededSampler(torch.zeros(3), 1.0, gen, prompt_length=5, begin_banned=[0])
    out = sampler(torch.zeros(3, 5, dtype=torch.long), logits.repeat(3, 1))  # first new token: 0 is banned
    assert out.argmax(dim=-1).tolist() == [1, 1, 1]  # T = 0: argmax of what is allowed


def test_bad_arguments(bundle):
    with pytest.raises(ValueError):
        generate_headlines(bundle, ARTICLES, temperature=-1.0)
    with pytest.raises(ValueError):
        generate_headlines(bundle, ARTICLES, temperature=1.0, n=0)


def test_generate_cli_prints_json(capsys, tmp_path):
    import json

    from rlhf_core.cli import main

    args = ["generate", "--policy", "tiny-init", "--article", ARTICLES[0], "--temperatures", "0,1.0",
            "--n", "2", "--seed", "3", "--max-new-tokens", "5"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["policy"] == "tiny-init" and first["article"] == ARTICLES[0]
    assert [(r["temperature"], r["sample"]) for r in first["results"]] == [(0.0, 0), (0.0, 1), (1.0, 0), (1.0, 1)]
    assert all("reward" not in r and r["headline"] for r in first["results"])
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["results"] == first["results"]  # same seed, same output

    article_file = tmp_path / "article.txt"
    article_file.write_text(ARTICLES[1], encoding="utf-8")
    assert main(["generate", "--policy", "tiny-init", "--article-file", str(article_file), "--n", "1",
                 "--temperatures", "0.5", "--max-new-tokens", "3"]) == 0
    assert json.loads(capsys.readouterr().out)["article"] == ARTICLES[1]

    assert main(["generate", "--policy", "tiny-init", "--article", "x", "--temperatures", "hot"]) == 2
    assert "comma-separated numbers" in capsys.readouterr().err
    assert main(["generate", "--policy", str(tmp_path / "nowhere" / "x"), "--article", "x"]) == 2
    assert "does not exist" in capsys.readouterr().err
