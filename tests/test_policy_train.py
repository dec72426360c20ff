"""Rollouts and 2-step runs of every algorithm on the tiny GPT-2 (random init): parameters move,
metrics are finite, the reference stays frozen, checkpoints load with plain transformers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from rlhf_core import paths
from rlhf_core.policy.config import DPOConfig, GenerationConfig, GRPOConfig, PPOConfig, SFTConfig
from rlhf_core.policy.train import train_policy

GEN = GenerationConfig(max_new_tokens=6, max_prompt_tokens=48)




def gold_reward(articles, headlines):
    """A real reward function (the wire editor's score), standing in for a trained reward model."""
    from rlhf_core.data.personas import get_persona

    persona = get_persona("wire_editor")
    return np.array([persona.score(a, h) + 0.01 * len(h.split()) for a, h in zip(articles, headlines)])


def _initial_state():
    from rlhf_core.models.registry import load_policy

    return {k: v.clone() for k, v in load_policy("tiny-init", cache=False).model.state_dict().items()}


def trainer_locals(gen) -> dict:
    """The local variables of the innermost running trainer generator (train_policy delegates with `yield from`)."""
    while gen.gi_yieldfrom is not None:
        gen = gen.gi_yieldfrom
    return gen.gi_frame.f_locals


def _run_two_steps(algo, cfg, data, out_dir, reward=None):
    """Run 2 steps; return (metrics, reference snapshot before, reference after, the reference model)."""
    gen = train_policy(algo, cfg, "tiny-init", reward, data, out_dir)
    metrics = [next(gen)]
    ref = trainer_locals(gen).get("ref")  # the trainer's frozen reference (None for SFT)
    assert (ref is None) == (algo == "sft")
    before = None if ref is None else {k: v.clone() for k, v in ref.state_dict().items()}
    metrics += list(gen)
    return metrics, before, ref


def _assert_trained(metrics, out_dir, initial, ref_before, ref):
    from transformers import AutoModelForCausalLM

    assert [m["step"] for m in metrics] == [1, 2] and metrics[-1]["total_steps"] == 2
    for m in metrics:
        for key, value in m.items():
            if isinstance(value, float):
                assert math.isfinite(value), (key, value)
    trained = AutoModelForCausalLM.from_pretrained(out_dir / "final")  # plain transformers loads it
    changed = [k for k, v in trained.state_dict().items() if k in initial and not torch.equal(v, initial[k])]
    assert changed, "no parameter changed"
    if ref is not None:
        assert not any(p.requires_grad for p in ref.parameters()) and not ref.training
        assert all(torch.equal(v, ref_before[k]) for k, v in ref.state_dict().items()), "reference model changed"
        assert all(torch.equal(v, initial[k]) for k, v in ref.state_dict().items() if k in initial)


def test_sample_logprobs_match_a_full_forward():
    from rlhf_core.models.registry import load_policy
    from rlhf_core.policy.rollout import completion_logprobs, sample
    from rlhf_core.policy.run import PolicyRun

    bundle = load_policy("tiny-init", cache=False)
    run = PolicyRun("test", None, bundle, None, None, torch.device("cpu"))
    ids, mask = run.encode_prompts(["Short article about a council vote.", "A much longer article " * 5], 8, 64)
    roll = sample(bundle.model, ids, mask, max_new_tokens=8, temperature=0.7, stop_ids=run.stop_ids(),
                  pad_id=run.pad_id, repeats=3, generator=torch.Generator().manual_seed(0))
    assert roll.completion_ids.shape[0] == 6 and torch.equal(roll.prompt_ids[0], roll.prompt_ids[2])
    with torch.no_grad():
        lp = completion_logprobs(bundle.model, roll.prompt_ids, roll.prompt_mask, roll.completion_ids,
                                 roll.completion_mask, 0.7)
        # the same numbers from the full-vocabulary logits of an ordinary forward over every position
        full_ids = torch.cat([roll.prompt_ids, roll.completion_ids], 1)
        full_mask = torch.cat([roll.prompt_mask, roll.completion_mask], 1)
        from rlhf_core.policy.rollout import position_ids

        logits = bundle.model(input_ids=full_ids, attention_mask=full_mask, position_ids=position_ids(full_mask)).logits
        P = roll.prompt_ids.shape[1]
        ref = torch.log_softmax(logits[:, P - 1:-1].float() / 0.7, -1).gather(-1, roll.completion_ids[..., None]).squeeze(-1)
    m = roll.completion_mask.bool()
    assert torch.allclose(lp[m], ref[m], atol=1e-4)
    # sharing each group's prompt forward (KV cache repeated) gives the same log-probs, and gradients flow
    shared = completion_logprobs(bundle.model, roll.prompt_ids, roll.prompt_mask, roll.completion_ids,
                                 roll.completion_mask, 0.7, group_size=3)
    assert torch.allclose(shared[m], lp[m], atol=1e-4) and shared.requires_grad
    shared.sum().backward()
    assert bundle.model.transformer.wte.weight.grad.abs().sum() > 0
    assert torch.allclose(roll.logprobs[m], lp[m], atol=1e-4)  # the sampling pass recorded the same log-probs
    assert (roll.logprobs[~m] == 0).all()


def test_sample_stops_rows_at_stop_tokens_and_greedy_is_deterministic():
    from rlhf_core.models.registry import load_policy
    from rlhf_core.policy.rollout import sample
    from rlhf_core.policy.run import PolicyRun

    bundle = load_policy("tiny-init", cache=False)
    run = PolicyRun("test", None, bundle, None, None, torch.device("cpu"))
    ids, mask = run.encode_prompts(["An article."] * 2, 10, 32)
    greedy = [sample(bundle.model, ids, mask, max_new_tokens=10, stop_ids=[], pad_id=run.pad_id, greedy=True) for _ in range(2)]
    assert torch.equal(greedy[0].completion_ids, greedy[1].completion_ids)
    tokens = greedy[0].completion_ids[0].tolist()
    stop = tokens[2]  # declare the 3rd greedy token a stop token: rows end at its first occurrence
    end = tokens.index(stop) + 1
    stopped = sample(bundle.model, ids, mask, max_new_tokens=10, stop_ids=[stop], pad_id=run.pad_id, greedy=True)
    assert stopped.completion_ids.shape[1] == end and stopped.completion_mask.sum().item() == 2 * end
    assert stopped.completion_ids[0].tolist() == tokens[:end]


def test_grpo_two_steps_checkpoint_and_resume(articles, tmp_path):
    cfg = GRPOConfig(steps=2, lr=1e-3, prompts_per_step=2, group_size=3, sample_every=2, save_every=1,
                     probe_articles=2, generation=GEN)
    initial = _initial_state()
    metrics, before, ref = _run_two_steps("grpo", cfg, articles, tmp_path / "run", gold_reward)
    _assert_trained(metrics, tmp_path / "run", initial, before, ref)
    for key in ("reward/mean", "reward/gold_mean", "policy/kl_k3", "policy/entropy", "policy/clipfrac", "policy/approx_kl",
                "loss/policy", "completion/length", "policy/beta"):
        assert key in metrics[-1], key
    assert metrics[-1]["policy/kl_k3"] > 0  # the policy moved away from the reference
    samples = [s for s in metrics[-1]["samples"] if s.get("source") != "rollout"]  # the probes (not the over-rated rollout)
    assert len(samples) == 2 and {"article", "headline", "reward", "gold"} <= set(samples[0])
    overrated = [s for s in metrics[-1]["samples"] if s.get("source") == "rollout"]  # what fools the reward model
    assert len(overrated) == 1 and overrated[0]["reward"] - overrated[0]["gold"] >= -1
    assert (tmp_path / "run" / "checkpoint-1" / "studio_policy.json").is_file()
    # resume from checkpoint-1: the run continues at step 2
    resumed = list(train_policy("grpo", GRPOConfig(**{**cfg.__dict__, "resume_from": str(tmp_path / "run" / "checkpoint-1")}),
                                "tiny-init", gold_reward, articles, tmp_path / "resumed"))
    assert [m["step"] for m in resumed] == [2]
    assert paths.read_json(tmp_path / "resumed" / "final" / "studio_policy.json")["step"] == 2


def test_grpo_dr_grpo_and_cancel_saves_final(articles, tmp_path):
    cfg = GRPOConfig(steps=5, lr=1e-3, group_size=2, loss_type="dr_grpo", scale_rewards="none", sample_every=0, generation=GEN)
    gen = train_policy("grpo", cfg, "tiny-init", gold_reward, articles, tmp_path / "run")
    first = next(gen)
    gen.close()  # what the job runner does on cancel
    assert math.isfinite(first["loss/policy"])
    assert paths.read_json(tmp_path / "run" / "final" / "studio_policy.json")["step"] == 1


def test_ppo_two_steps_with_a_saved_reward_model(articles, tmp_path):
    from rlhf_core.models.registry import load_reward_backbone

    reward_model, reward_tok = load_reward_backbone("tiny")
    reward_model.save_pretrained(tmp_path / "reward")
    reward_tok.save_pretrained(tmp_path / "reward")
    cfg = PPOConfig(steps=2, lr=1e-3, batch_size=3, ppo_epochs=2, adaptive_kl=True, sample_every=0, generation=GEN)
    initial = _initial_state()
    metrics, before, ref = _run_two_steps("ppo", cfg, articles, tmp_path / "run", str(tmp_path / "reward"))
    _assert_trained(metrics, tmp_path / "run", initial, before, ref)
    assert "loss/value" in metrics[-1] and metrics[-1]["policy/beta"] != cfg.beta  # adaptive controller moved beta
    assert 0.0 < metrics[-1]["reward/mean"] < 1.0
    assert (tmp_path / "run" / "final" / "value_head.safetensors").is_file()


def test_sft_two_steps_on_expert_demonstrations(tmp_path):
    frame = pd.read_csv(paths.sample_data_dir() / "expert_demonstrations.csv").head(20)
    frame.to_csv(tmp_path / "experts.csv", index=False)
    cfg = SFTConfig(steps=2, lr=1e-3, batch_size=4, sample_every=2, probe_articles=2)
    initial = _initial_state()
    metrics, before, ref = _run_two_steps("sft", cfg, tmp_path / "experts.csv", tmp_path / "run")
    _assert_trained(metrics, tmp_path / "run", initial, before, ref)
    assert metrics[0]["loss/policy"] > 0 and "samples" in metrics[-1]


def test_sft_demonstrations_weight_experts():
    from rlhf_core.policy.sft import demonstrations

    frame = pd.DataFrame({"article": ["a", "b", "c"], "headline": ["x", "y", "z"], "score": [1.0, 0.9, 0.2],
                          "weight": [2.0, 1.0, 1.0]})
    arts, heads, w = demonstrations(frame, SFTConfig(expert_weight=3.0))
    assert arts == ["a", "b"] and w.tolist() == [3.0, 1.0]


def test_dpo_two_steps_on_preferences(tmp_path):
    rows = pd.read_json(paths.sample_data_dir() / "train_preferences.jsonl", lines=True).head(12)
    rows.to_json(tmp_path / "prefs.jsonl", orient="records", lines=True)
    cfg = DPOConfig(steps=2, lr=1e-3, batch_size=4, beta=0.1, sample_every=0)
    initial = _initial_state()
    metrics, before, ref = _run_two_steps("dpo", cfg, tmp_path / "prefs.jsonl", tmp_path / "run")
    _assert_trained(metrics, tmp_path / "run", initial, before, ref)
    assert metrics[0]["loss/policy"] == pytest.approx(math.log(2), abs=1e-4)  # policy = reference at step 1
    assert 0.0 <= metrics[-1]["dpo/accuracy"] <= 1.0
    rpo = DPOConfig(steps=1, lr=1e-3, batch_size=4, beta=0.1, sample_every=0, rpo_alpha=0.5)
    first = _run_two_steps("dpo", rpo, tmp_path / "prefs.jsonl", tmp_path / "rpo")[0][0]
    assert first["dpo/chosen_nll"] > 0  # step 1: log 2 plus half the chosen headlines' NLL per token
    assert first["loss/policy"] == pytest.approx(math.log(2) + 0.5 * first["dpo/chosen_nll"], abs=1e-4)


def test_best_of_n_keeps_the_reward_models_pick():
    from rlhf_core.models.registry import load_policy
    from rlhf_core.policy.best_of_n import best_of_n, summary

    bundle = load_policy("tiny-init", cache=False)
    reward = lambda a, h: np.array([len(x) / 100 for x in h])  # noqa: E731
    results = best_of_n(bundle, reward, ["Article one.", "Article two."], n=3, gen=GEN, seed=1)
    assert len(results) == 2
    for r in results:
        assert r["reward"] == max(c["reward"] for c in r["candidates"]) and len(r["candidates"]) == 3
    s = summary(results)
    assert s["reward/best_mean"] >= s["reward/mean"]


def test_unknown_algorithm_and_missing_reward(articles, tmp_path):
    from rlhf_core.errors import ConfigError

    with pytest.raises(ConfigError):
        next(train_policy("reinforce", GRPOConfig(), "tiny-init", None, articles, tmp_path))
    with pytest.raises(ValueError, match="reward model"):
        next(train_policy("grpo", GRPOConfig(), "tiny-init", None, articles, tmp_path))


def test_pretrain_tiny_builds_a_plain_loadable_model(tmp_path):
    from transformers import AutoModelForCausalLM

    from rlhf_core.policy.sft import PRETRAIN_CONFIG, pretrain_corpus, pretrain_tiny

    articles, headlines, weights = pretrain_corpus()
    sample_articles = set(pd.read_csv(paths.sample_data_dir() / "articles.csv")["article"])
    assert not sample_articles & set(articles), "sample articles (RL prompts, held-out) leaked into pretraining"
    assert len(articles) == len(headlines) == len(weights) > 1000
    seen = []
    cfg = SFTConfig(**{**PRETRAIN_CONFIG.__dict__, "steps": 2, "batch_size": 4})
    out = pretrain_tiny(tmp_path / "tiny-sft", cfg, on_step=seen.append)
    assert [m["step"] for m in seen] == [1, 2] and math.isfinite(seen[-1]["loss/policy"])
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.model_type == "gpt2" and (out / "tokenizer.json").is_file()


def test_shared_prompt_forward_on_a_llama_with_left_padding():
    """SmolLM2 is a Llama (RoPE, grouped-query attention): the shared-prefill path must match there too."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from rlhf_core.policy.rollout import completion_logprobs, sample

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                         num_key_value_heads=2, intermediate_size=64, pad_token_id=0)).eval()
    ids = torch.tensor([[0, 0, 5, 6, 7], [8, 9, 10, 11, 12]])
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    roll = sample(model, ids, mask, max_new_tokens=6, pad_id=0, repeats=3, generator=torch.Generator().manual_seed(1))
    full = completion_logprobs(model, roll.prompt_ids, roll.prompt_mask, roll.completion_ids, roll.completion_mask)
    shared = completion_logprobs(model, roll.prompt_ids, roll.prompt_mask, roll.completion_ids, roll.completion_mask, group_size=3)
    keep = roll.completion_mask.bool()
    assert torch.allclose(full[keep], shared[keep], atol=1e-5)
    assert torch.allclose(roll.logprobs[keep], full[keep], atol=1e-5)
