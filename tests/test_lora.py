"""LoRA (policy/lora.py) on the tiny GPT-2: only the adapter trains, the reference is the adapter switched
off, and a saved adapter (or merged model) reloads to the same outputs, in the studio and with plain
transformers + peft."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from rlhf_core import paths
from rlhf_core.errors import ConfigError
from rlhf_core.policy.algorithms import make_config
from rlhf_core.policy.config import GenerationConfig, GRPOConfig, SFTConfig
from rlhf_core.policy.train import Rewarder, start_run, train_policy

pytest.importorskip("peft")
GEN = GenerationConfig(max_new_tokens=6, max_prompt_tokens=48)


def _demos(n: int = 24) -> pd.DataFrame:
    frame = pd.read_csv(paths.sample_data_dir() / "expert_demonstrations.csv").head(n)
    return pd.DataFrame({"article": frame["text"], "headline": frame["title"]})


def _logits(model, text: str = "Article: The council voted to close the bridge.\nHeadline:") -> torch.Tensor:
    from rlhf_core.models.registry import load_policy

    tokenizer = load_policy("tiny").tokenizer
    ids = torch.tensor([tokenizer(text)["input_ids"]])
    with torch.no_grad():
        return model(input_ids=ids).logits


def _sft_lora(tmp_path, steps=4, policy="tiny", **extra):
    cfg = SFTConfig(steps=steps, lr=5e-3, batch_size=8, lora_r=4, lora_alpha=8, sample_every=0, probe_articles=0,
                    gold_persona="", **extra)
    out = tmp_path / "sft"
    list(train_policy("sft", cfg, policy, None, _demos(), out))
    return out / "final"


def test_lora_trains_only_the_adapter_and_its_reference_is_the_start_model(tmp_path):
    from rlhf_core.policy.sft import sft_loop

    cfg = SFTConfig(steps=3, lr=1e-2, batch_size=8, lora_r=4, sample_every=0, probe_articles=0, gold_persona="")
    run = start_run("sft", cfg, "tiny", tmp_path / "run")
    before = {n: p.detach().clone() for n, p in run.model.named_parameters()}
    start_logits = _logits(run.model)
    trainable = {n for n, p in run.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert sum(p.numel() for p in run.trainable_parameters()) < 0.1 * sum(p.numel() for p in run.model.parameters())
    demos = _demos()
    list(sft_loop(run, cfg, demos.article.tolist(), demos.headline.tolist(), np.ones(len(demos)), [], Rewarder(None)))
    changed = {n for n, p in run.model.named_parameters() if not torch.equal(p.detach(), before[n])}
    assert changed and changed <= trainable  # every frozen weight is bit-for-bit what it was
    assert any("lora_B" in n for n in changed)  # B starts at 0: it moved, so the adapter now does something
    assert not torch.allclose(_logits(run.model), start_logits, atol=1e-4)
    with run.reference() as ref:  # the adapter switched off: exactly the start model again
        assert torch.allclose(_logits(ref), start_logits, atol=1e-6)
    assert not torch.allclose(_logits(run.model), start_logits, atol=1e-4)  # and back on after the reference


def test_saved_adapter_reloads_to_the_same_outputs(tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from rlhf_core.models.registry import load_policy, tiny_sft_dir

    final = _sft_lora(tmp_path)
    files = {p.name for p in final.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "studio_policy.json"} <= files and "config.json" not in files
    from safetensors.torch import load_file

    assert all("lora_" in k for k in load_file(str(final / "adapter_model.safetensors")))  # an adapter, no base weights
    meta = paths.read_json(final / "studio_policy.json")
    assert meta["format"] == "adapter" and meta["lora_base"] == "tiny"
    studio = load_policy(str(final), cache=False)  # the studio: base + adapter, merged for generation
    base = AutoModelForCausalLM.from_pretrained(str(tiny_sft_dir()))
    plain = PeftModel.from_pretrained(base, str(final)).eval()  # plain transformers + peft
    auto = AutoModelForCausalLM.from_pretrained(str(final)).eval()  # transformers finds the adapter's base by itself
    reference = _logits(studio.model)
    assert torch.allclose(_logits(plain), reference, atol=1e-5)
    assert torch.allclose(_logits(auto), reference, atol=1e-5)
    assert not torch.allclose(_logits(load_policy("tiny", cache=False).model), reference, atol=1e-4)  # it learned something


def test_merged_checkpoint_is_a_plain_model_with_the_same_outputs(tmp_path):
    from transformers import AutoModelForCausalLM

    from rlhf_core.models.registry import load_policy

    adapter = _sft_lora(tmp_path / "a")
    merged = _sft_lora(tmp_path / "m", save_merged=True)
    assert (merged / "config.json").is_file() and not (merged / "adapter_config.json").exists()
    plain = AutoModelForCausalLM.from_pretrained(str(merged)).eval()
    assert torch.allclose(_logits(plain), _logits(load_policy(str(adapter), cache=False).model), atol=1e-5)


def test_grpo_after_lora_sft_continues_the_adapter_against_it(tmp_path):
    """GRPO from a LoRA SFT checkpoint: the reference is that SFT adapter, the result adapts the same base."""
    from rlhf_core.models.registry import load_policy

    sft = _sft_lora(tmp_path)
    sft_logits = _logits(load_policy(str(sft), cache=False).model)
    articles = pd.read_csv(paths.sample_data_dir() / "articles.csv").head(12)
    reward = lambda a, h: np.array([len(x) / 50 + sum(map(ord, x)) % 97 / 1000 for x in h])  # noqa: E731
    cfg = make_config("grpo", "tiny", steps=3, lr=5e-3, lora_r=4, prompts_per_step=2, group_size=4, sample_every=0,
                      probe_articles=0, gold_persona="", generation=GEN)
    gen = train_policy("grpo", cfg, str(sft), reward, articles, tmp_path / "grpo")
    metrics = [next(gen)]
    run = gen.gi_yieldfrom.gi_frame.f_locals["run"]
    with run.reference() as ref:
        assert torch.allclose(_logits(ref), sft_logits, atol=1e-5)  # the reference is the SFT policy
    assert torch.allclose(_logits(run.model), sft_logits, atol=1e-5) or metrics[0]["step"] == 1
    metrics += list(gen)
    assert metrics[-1]["policy/kl_k3"] > 0
    with run.reference() as ref:
        assert torch.allclose(_logits(ref), sft_logits, atol=1e-5)  # still, after training
    final = tmp_path / "grpo" / "final"
    meta = paths.read_json(final / "studio_policy.json")
    assert meta["lora_base"] == "tiny" and meta["policy_spec"] == str(sft)  # base + one adapter; KL measured from SFT
    assert torch.allclose(_logits(load_policy(str(final), cache=False).model), _logits(run.model), atol=1e-5)
    assert {"time/generation_s", "time/reference_s", "time/forward_s", "time/backward_s", "time/optimiser_s"} <= set(metrics[-1])


def test_lora_settings_are_checked():
    with pytest.raises(ConfigError, match="lora_r"):
        GRPOConfig(lora_r=-1)
    with pytest.raises(ConfigError, match="lora_targets"):
        SFTConfig(lora_r=8, lora_targets=" ")


def test_trl_export_carries_the_lora_settings(tmp_path):
    from peft import LoraConfig

    from rlhf_core.export import export_trl_bundle

    cfg = SFTConfig(lora_r=8, lora_alpha=16, lora_targets="q_proj,v_proj", save_merged=True)
    out = export_trl_bundle(tmp_path / "b", "sft", [_demos()], cfg, model_id="HuggingFaceTB/SmolLM2-135M-Instruct")
    source = (tmp_path / "b" / "train.py").read_text()
    compile(source, "train.py", "exec")  # it parses
    lora_line = next(line for line in source.splitlines() if line.startswith("LORA = "))
    lora = eval(lora_line.split("=", 1)[1])  # noqa: S307  (our own literal)
    assert lora["r"] == 8 and lora["lora_alpha"] == 16 and lora["target_modules"] == ["q_proj", "v_proj"]
    assert LoraConfig(**lora).r == 8  # what train.py hands to the trainer
    assert "SAVE_MERGED = True" in source and "peft_config=peft_config()" in source
    assert "LoRA as in the studio" in (tmp_path / "b" / "README.md").read_text()
    full = export_trl_bundle(tmp_path / "f", "sft", [_demos()], SFTConfig(), model_id="HuggingFaceTB/SmolLM2-135M-Instruct")
    assert "LORA = None" in (tmp_path / "f" / "train.py").read_text() and out["rows"] == full["rows"]


def test_a_lora_run_is_offered_on_compare_and_writes_headlines_for_fresh_articles(tmp_path):
    from rlhf_core.compare import SYNTH_SOURCE, compare_grid, load_articles, policy_choices
    from rlhf_core.models.registry import load_policy

    out = paths.runs_dir() / "sft-lora"
    list(train_policy("sft", SFTConfig(steps=2, lr=5e-3, batch_size=8, lora_r=4, sample_every=0, probe_articles=0,
                                       gold_persona=""), "tiny", None, _demos(), out))
    choices = policy_choices()
    assert choices.get("run: sft-lora") == str(out / "final")  # an adapter final/ counts as a policy
    fresh = load_articles(SYNTH_SOURCE).head(2)  # articles of their own seed: in no training set
    bundle = load_policy(choices["run: sft-lora"])
    for article in fresh["article"]:
        grid = compare_grid([("SFT LoRA", bundle), ("tiny", load_policy("tiny"))], article, [0.7], n=1, persona="wire_editor")
        assert len(grid) == 2 and grid["headline"].map(lambda h: isinstance(h, str)).all()
