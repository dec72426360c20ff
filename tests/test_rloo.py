"""RLOO (Ahmadian et al. 2024): the leave-one-out advantage and the REINFORCE loss on hand-computed tensors and
against TRL 1.16's RLOOTrainer formula (written out below, TRL need not be installed), then a 2-step CLI run."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from rlhf_core import paths
from rlhf_core.cli import main
from rlhf_core.metrics import BOOKKEEPING, glossary
from rlhf_core.policy.losses import kl_k1, rloo_advantages, rloo_loss


def test_leave_one_out_advantages_by_hand():
    # two articles, k = 3: each reward minus the mean of the other two of its article
    rewards = torch.tensor([3.0, 0.0, 0.0, 1.0, 1.0, 4.0])
    # article 1: 3 - 0 = 3, 0 - (3 + 0)/2 = -1.5, the same; article 2: 1 - 2.5, 1 - 2.5, 4 - 1
    assert rloo_advantages(rewards, 3).tolist() == [3.0, -1.5, -1.5, -1.5, -1.5, 3.0]
    # k = 2: A = r_i - r_j, so the two advantages of a pair cancel
    assert rloo_advantages(torch.tensor([0.9, 0.4]), 2).tolist() == pytest.approx([0.5, -0.5])


def test_loss_is_reinforce_on_the_whole_headline_at_ratio_one():
    logps = torch.tensor([-2.0, -3.0, -1.0, -4.0], requires_grad=True)  # log pi(y_i | x), sums over tokens
    advantages = torch.tensor([1.0, -1.0, 0.5, -0.5])
    loss, clipfrac = rloo_loss(logps, logps.detach(), advantages, clip_eps=0.2)
    loss.backward()
    assert loss.item() == pytest.approx(-advantages.mean().item())  # ratio 1: L = -mean(A)
    assert logps.grad.tolist() == pytest.approx((-advantages / 4).tolist())  # -A_i / B per sequence
    assert clipfrac.item() == 0.0


def test_ratio_is_clipped_when_the_batch_is_reused():
    old = torch.zeros(2)
    logps = torch.log(torch.tensor([1.5, 0.5]))  # ratios 1.5 and 0.5, both outside [0.8, 1.2]
    loss, clipfrac = rloo_loss(logps, old, torch.tensor([1.0, -1.0]), clip_eps=0.2)
    # A > 0 capped at 1.2 * A; A < 0 capped at 0.8 * A: L = -(1.2 - 0.8) / 2
    assert loss.item() == pytest.approx(-(1.2 * 1.0 + 0.8 * -1.0) / 2)
    assert clipfrac.item() == 1.0


def trl_rloo(per_token_logps, old_per_token_logps, ref_per_token_logps, completion_mask, rewards, beta,
             num_generations, epsilon):
    """TRL 1.16's RLOOTrainer, copied from trl/trainer/rloo_trainer.py (_generate_and_score_completions and
    _compute_loss), with the multi-process gathering and NaN handling of unscorable rewards left out."""
    old_logps = (old_per_token_logps * completion_mask).sum(1)
    per_token_kl = old_per_token_logps - ref_per_token_logps
    kl = (per_token_kl * completion_mask).sum(-1)
    rewards = rewards - beta * kl
    grouped_rewards = rewards.view(-1, num_generations)
    scorable_counts = (~torch.isnan(grouped_rewards)).sum(dim=1, keepdim=True)
    grouped_sum = torch.nansum(grouped_rewards, dim=1, keepdim=True)
    baselines = (grouped_sum - grouped_rewards) / (scorable_counts - 1)
    advantages = rewards - baselines.view(-1)
    logps = (per_token_logps * completion_mask).sum(1)
    coef_1 = torch.exp(logps - old_logps)
    coef_2 = torch.clamp(coef_1, 1 - epsilon, 1 + epsilon)
    per_sequence_loss = -torch.min(coef_1 * advantages, coef_2 * advantages)
    return per_sequence_loss.mean(), advantages


def test_matches_trls_rloo_formula():
    torch.manual_seed(0)
    B, C, k, beta, eps = 8, 5, 4, 0.05, 0.2
    mask = (torch.rand(B, C) > 0.2).float()
    old = -torch.rand(B, C) * 3 * mask
    new = old + 0.3 * torch.randn(B, C) * mask  # a reused batch: ratios away from 1, some clipped
    ref = old + 0.2 * torch.randn(B, C) * mask
    scores = torch.rand(B)
    want_loss, want_adv = trl_rloo(new, old, ref, mask, scores, beta, k, eps)
    # the studio's pieces, as train_rloo puts them together
    penalised = scores - beta * (kl_k1(old, ref) * mask).sum(-1)
    advantages = rloo_advantages(penalised, k)
    loss, _ = rloo_loss((new * mask).sum(-1), (old * mask).sum(-1), advantages, eps)
    assert torch.allclose(advantages, want_adv, atol=1e-6)
    assert loss.item() == pytest.approx(want_loss.item(), abs=1e-6)


def test_two_steps_from_the_cli(tmp_path, capsys):
    """`policy train --algo rloo`: two steps on tiny-init, keys from the glossary, the policy moved."""
    from safetensors.torch import load_file

    from rlhf_core.models.registry import load_policy, load_reward_backbone

    model, tokenizer = load_reward_backbone("tiny")
    model.save_pretrained(tmp_path / "reward")
    tokenizer.save_pretrained(tmp_path / "reward")
    pd.read_csv(paths.sample_data_dir() / "articles.csv").head(10).to_csv(tmp_path / "articles.csv", index=False)
    code = main(["policy", "train", "--algo", "rloo", "--policy", "tiny-init", "--reward", str(tmp_path / "reward"),
                 "--data", str(tmp_path / "articles.csv"), "--out", str(tmp_path / "run"), "--steps", "2", "--lr", "1e-3",
                 "--max-new-tokens", "6", "--sample-every", "2", "--set", "group_size=3", "--set", "prompts_per_step=2"])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    steps, summary = lines[:-1], lines[-1]["summary"]
    assert [s["step"] for s in steps] == [1, 2] and summary["algo"] == "rloo"
    for row in steps:
        assert set(row) - set(BOOKKEEPING) <= set(glossary()), set(row) - set(glossary())
        assert "policy/kl_k1" in row and "policy/kl_k3" not in row  # RLOO's penalty is k1, as in the paper and TRL
        assert row["reward/kl_penalised"] == pytest.approx(row["reward/mean"] - 0.05 * row["policy/kl_k1"], abs=1e-5)
    assert steps[0]["policy/kl_k1"] == pytest.approx(0.0, abs=1e-4)  # step 1 samples from the reference itself
    trained = load_file(str(tmp_path / "run" / "final" / "model.safetensors"))
    start = load_policy("tiny-init", cache=False).model.state_dict()
    assert any(not torch.equal(trained[name], start[name]) for name in trained if name in start)
