"""Each policy loss on tiny tensors whose answer was worked out by hand (or with TRL's formulas written out)."""

import math

import pytest
import torch

from rlhf_core.errors import ConfigError
from rlhf_core.policy import losses as L
from rlhf_core.policy.config import DPOConfig, GenerationConfig, GRPOConfig, PPOConfig, SFTConfig, field_help


def test_sft_nll_weights_expert_rows_twice():
    logprobs = torch.tensor([[-1.0, -3.0], [-2.0, 0.0]])
    mask = torch.tensor([[1, 1], [1, 0]])
    # row 0 (ordinary): tokens -1, -3; row 1 (expert, w=2): token -2 counted twice
    loss = L.sft_nll(logprobs, mask, torch.tensor([1.0, 2.0]))
    assert loss.item() == pytest.approx((1 + 3 + 2 * 2) / (2 + 2))
    assert L.sft_nll(logprobs, mask, torch.tensor([1.0, 1.0])).item() == pytest.approx((1 + 3 + 2) / 3)


def test_kl_estimators():
    logp = torch.tensor([[math.log(0.5), math.log(0.2)]])
    ref = torch.tensor([[math.log(0.25), math.log(0.2)]])
    assert L.kl_k1(logp, ref)[0, 0].item() == pytest.approx(math.log(2))
    # k3 = r - log r - 1 with r = pi_ref / pi = 0.5  ->  0.5 + log 2 - 1
    k3 = L.kl_k3(logp, ref)
    assert k3[0, 0].item() == pytest.approx(0.5 + math.log(2) - 1)
    assert k3[0, 1].item() == pytest.approx(0.0)
    assert L.per_token_kl_penalty is L.kl_k1


def test_k3_is_unbiased_for_kl_on_samples():
    torch.manual_seed(0)
    p = torch.tensor([0.6, 0.3, 0.1])
    q = torch.tensor([0.2, 0.5, 0.3])
    samples = torch.multinomial(p, 200_000, replacement=True)
    estimate = L.kl_k3(p.log()[samples], q.log()[samples]).mean().item()
    exact = (p * (p / q).log()).sum().item()
    assert estimate == pytest.approx(exact, abs=0.01)


def test_ppo_clipped_surrogate_by_hand():
    old = torch.zeros(1, 3)
    logp = torch.log(torch.tensor([[1.5, 0.9, 1.1]]))  # ratios 1.5, 0.9, 1.1
    adv = torch.tensor([[1.0, -1.0, 2.0]])
    mask = torch.ones(1, 3)
    loss, clipfrac = L.ppo_clipped_surrogate(logp, old, adv, mask, clip_eps=0.2)
    # token 0: max(-1.5, -1.2) = -1.2; token 1: max(0.9, 0.9) = 0.9; token 2: max(-2.2, -2.2) = -2.2
    assert loss.item() == pytest.approx((-1.2 + 0.9 - 2.2) / 3)
    assert clipfrac.item() == pytest.approx(1 / 3)
    # a per-completion advantage (B,) broadcasts over tokens, masked tokens do not count
    loss2, _ = L.ppo_clipped_surrogate(logp, old, torch.tensor([1.0]), torch.tensor([[1, 1, 0]]), 0.2)
    assert loss2.item() == pytest.approx((-1.2 - 0.9) / 2)


def test_value_loss_clipped_by_hand():
    values = torch.tensor([[1.0, 0.0]])
    old = torch.tensor([[0.0, 0.0]])
    returns = torch.tensor([[2.0, 1.0]])
    # token 0: V=1 clipped to 0.2: max((1-2)^2, (0.2-2)^2) = 3.24; token 1: 1
    loss = L.value_loss_clipped(values, old, returns, torch.ones(1, 2), clip_eps_value=0.2)
    assert loss.item() == pytest.approx(0.5 * (3.24 + 1.0) / 2)


def test_gae_by_hand_and_masking():
    rewards = torch.tensor([[0.0, 0.0, 1.0, 5.0]])
    values = torch.tensor([[0.5, 0.2, 0.1, 9.0]])
    mask = torch.tensor([[1, 1, 1, 0]])  # the last position is padding: its reward and value are ignored
    gamma, lam = 0.9, 0.8
    adv, ret = L.gae(rewards, values, mask, gamma, lam)
    d2 = 1.0 - 0.1
    d1 = 0.0 + gamma * 0.1 - 0.2
    d0 = 0.0 + gamma * 0.2 - 0.5
    a2, a1 = d2, d1 + gamma * lam * d2
    a0 = d0 + gamma * lam * a1
    assert adv[0].tolist() == pytest.approx([a0, a1, a2, 0.0])
    assert ret[0, :3].tolist() == pytest.approx([a0 + 0.5, a1 + 0.2, a2 + 0.1])
    # lambda = 1, gamma = 1: advantage = sum of future rewards - V_t (Monte Carlo)
    adv1, _ = L.gae(rewards, values, mask, 1.0, 1.0)
    assert adv1[0, :3].tolist() == pytest.approx([0.5, 0.8, 0.9])


def test_adaptive_kl_controller():
    # KL twice the target: error clipped to +0.2, K = 100 / 1000
    assert L.adaptive_kl_controller(0.1, kl=12.0, target=6.0, horizon=1000, n_steps=100) == pytest.approx(0.1 * 1.02)
    assert L.adaptive_kl_controller(0.1, kl=5.4, target=6.0, horizon=1000, n_steps=100) == pytest.approx(0.1 * (1 - 0.01))


def _trl_advantages(rewards, G, scale):
    """TRL 1.16 GRPOTrainer._generate_and_score_completions, written out."""
    mean = rewards.view(-1, G).mean(dim=1).repeat_interleave(G)
    std = rewards.view(-1, G).std(dim=1).repeat_interleave(G)
    adv = rewards - mean
    return adv / (std + 1e-4) if scale else adv


def test_grpo_advantages_match_trl_and_hand():
    rewards = torch.tensor([1.0, 0.0, 0.5, 0.5, 0.2, 0.4, 0.6, 0.8])
    adv = L.grpo_advantages(rewards, group_size=4, scale="std")
    std0 = torch.tensor([1.0, 0.0, 0.5, 0.5]).std().item()  # unbiased, sqrt(1/6)
    assert adv[0].item() == pytest.approx(0.5 / (std0 + 1e-4))
    assert torch.allclose(adv, _trl_advantages(rewards, 4, True))
    assert torch.allclose(L.grpo_advantages(rewards, 4, "none"), _trl_advantages(rewards, 4, False))
    assert L.grpo_advantages(rewards, 4, "none")[:4].tolist() == pytest.approx([0.5, -0.5, 0.0, 0.0])
    with pytest.raises(ValueError):
        L.grpo_advantages(rewards, 4, "batch")


def _trl_grpo_loss(logp, old, ref, adv, mask, beta, eps, loss_type, max_len):
    """TRL 1.16 GRPOTrainer._compute_loss (token-level ratio, two-sided clip), written out."""
    per_token_kl = torch.exp(ref - logp) - (ref - logp) - 1
    coef_1 = torch.exp(logp - old)
    coef_2 = torch.clamp(coef_1, 1 - eps, 1 + eps)
    per_token_loss = -torch.min(coef_1 * adv.unsqueeze(1), coef_2 * adv.unsqueeze(1)) + beta * per_token_kl
    if loss_type == "grpo":
        return ((per_token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    if loss_type == "bnpo":
        return (per_token_loss * mask).sum() / mask.sum().clamp(min=1.0)
    return (per_token_loss * mask).sum() / (per_token_loss.size(0) * max_len)


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dr_grpo"])
def test_grpo_loss_matches_trl(loss_type):
    torch.manual_seed(1)
    logp = -torch.rand(4, 5) * 3
    old = logp + 0.3 * torch.randn(4, 5)
    ref = logp + 0.5 * torch.randn(4, 5)
    adv = torch.tensor([1.0, -0.5, 0.25, -1.0])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]])
    ours, stats = L.grpo_loss(logp, old, ref, adv, mask, beta=0.04, clip_eps=0.2, loss_type=loss_type, max_completion_length=8)
    assert ours.item() == pytest.approx(_trl_grpo_loss(logp, old, ref, adv, mask.float(), 0.04, 0.2, loss_type, 8).item(), rel=1e-6)
    assert 0.0 < stats["clipfrac"].item() < 1.0 and stats["kl"].item() > 0


def test_grpo_loss_first_step_by_hand():
    # ratio = 1, pi = pi_ref: per-token loss is -A; GRPO averages per completion then over completions
    logp = torch.zeros(2, 3, requires_grad=True)
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    loss, stats = L.grpo_loss(logp, logp.detach(), logp.detach(), torch.tensor([2.0, -1.0]), mask, 0.04, 0.2)
    assert loss.item() == pytest.approx((-2.0 + 1.0) / 2)
    loss.backward()  # gradient of -A * ratio is -A / n_tokens per token
    assert logp.grad.flatten().tolist() == pytest.approx([-2 / 3 / 2] * 3 + [1 / 2, 0, 0])
    assert stats["clipfrac"].item() == 0.0


def test_dpo_loss_by_hand():
    pc, pr = torch.tensor([-1.0, -2.0]), torch.tensor([-3.0, -1.0])
    rc, rr = torch.tensor([-2.0, -2.0]), torch.tensor([-2.0, -2.0])
    loss, chosen_r, rejected_r = L.dpo_loss(pc, pr, rc, rr, beta=0.5)
    # h = 0.5 * ((1) - (-1)) = 1 and 0.5 * ((0) - (1)) = -0.5
    expected = (-math.log(1 / (1 + math.exp(-1.0))) - math.log(1 / (1 + math.exp(0.5)))) / 2
    assert loss.item() == pytest.approx(expected)
    assert chosen_r.tolist() == pytest.approx([0.5, 0.0]) and rejected_r.tolist() == pytest.approx([-0.5, 0.5])
    # policy = reference: log 2
    same = L.dpo_loss(rc, rr, rc, rr, 0.1)[0]
    assert same.item() == pytest.approx(math.log(2))


def test_rpo_nll_is_the_chosen_tokens_mean_negative_log_likelihood():
    logps = torch.tensor([-3.0, -6.0], requires_grad=True)  # two chosen headlines, 2 and 4 tokens
    nll = L.rpo_nll(logps, torch.tensor([2, 4]))
    assert nll.item() == pytest.approx(9.0 / 6)  # per token, over the batch's chosen tokens (TRL's 'sft' loss)
    nll.backward()
    assert logps.grad.tolist() == pytest.approx([-1 / 6, -1 / 6])  # pushes every chosen headline up


def test_entropy_and_reward_normalisers():
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.25]]))
    assert L.entropy_from_logits(logits).item() == pytest.approx(-(0.5 * math.log(0.5) + 0.5 * math.log(0.25)))
    r = torch.tensor([0.2, 0.4, 0.6])
    assert torch.equal(L.normalise_rewards(r, "raw"), r)
    z = L.normalise_rewards(r, "standardise")
    assert z.mean().item() == pytest.approx(0.0, abs=1e-6) and z.std(unbiased=False).item() == pytest.approx(1.0, abs=1e-4)
    w = L.masked_whiten(torch.tensor([[1.0, 3.0, 100.0]]), torch.tensor([[1, 1, 0]]))
    assert w[0, :2].tolist() == pytest.approx([-1.0, 1.0], abs=1e-4)


def test_configs_are_frozen_with_help_and_plain_errors():
    cfg = GRPOConfig()
    assert cfg.beta == 0.04 and cfg.clip_eps == 0.2 and "Shao" in GRPOConfig.__doc__
    assert "DeepSeekMath" in field_help(GRPOConfig, "beta")
    with pytest.raises(Exception):
        cfg.beta = 0.1  # frozen
    for bad in (lambda: GRPOConfig(group_size=1), lambda: GRPOConfig(loss_type="x"), lambda: PPOConfig(beta=-1),
                lambda: DPOConfig(beta=0), lambda: SFTConfig(min_score=2), lambda: GenerationConfig(temperature=0),
                lambda: PPOConfig(adaptive_kl=True, beta=0.0)):
        with pytest.raises(ConfigError):
            bad()
    assert PPOConfig().ppo_epochs == 4 and DPOConfig().beta == 0.1 and SFTConfig().expert_weight == 2.0
