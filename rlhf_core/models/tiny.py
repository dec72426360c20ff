"""The `tiny` presets: a tokenizer trained on our own corpus and ~1M-parameter GPT-2 / BERT configs.

They exist so that every step of the pipeline (SFT, reward model, PPO/GRPO/DPO) runs in seconds
on a laptop CPU and in tests, with no download. The tokenizer is a byte-level BPE (as GPT-2's)
trained by the `tokenizers` library on the sample newsroom corpus; the same vocabulary serves
the policy (GPT-2 style: `<|endoftext|>` as bos/eos/pad) and the reward model (BERT style:
`[CLS] article [SEP] headline [SEP]` with token_type_ids 0/1, via `reward_tokenizer`).
"""

from __future__ import annotations

import csv
import threading
from pathlib import Path
from typing import Iterable

from rlhf_core import paths

EOS = "<|endoftext|>"
PAD = "<|pad|>"
CLS = "[CLS]"
SEP = "[SEP]"
MASK = "[MASK]"
UNK = "[UNK]"
SPECIAL_TOKENS = [EOS, PAD, CLS, SEP, MASK, UNK]  # ids 0..5, fixed by this order

TINY_CONTEXT = 256  # tokens: a ~150-token article + "Headline:" + 24 new tokens fit
TOKENIZER_DIR = "tiny-tokenizer"
# The `tiny` policy pre-trained once and shipped with the code (4 MB of safetensors plus its tokenizer),
# so a class never waits for it; `python -m rlhf_core models build-tiny` rebuilds it from its recipe.
SHIPPED_DIR = Path(__file__).resolve().parent / "assets" / "tiny-sft"
_lock = threading.Lock()


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2000):
    """Train a byte-level BPE tokenizer on `texts` (deterministic for the same texts in the same order).

    Returns a `PreTrainedTokenizerFast` for a decoder-only policy: bos = eos = `<|endoftext|>`,
    pad = `<|pad|>`, left padding (generation appends on the right), no token_type_ids.
    Use `reward_tokenizer(tok)` for the BERT-style pair encoding of the same vocabulary.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte encodable: no unknowns
        show_progress=False,
    )
    backend.train_from_iterator(list(texts), trainer=trainer)
    return _policy_wrapper(backend)


def _policy_wrapper(backend):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=EOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        padding_side="left",
        model_input_names=["input_ids", "attention_mask"],  # GPT-2 would embed token_type_ids as tokens
    )


def reward_tokenizer(tokenizer):
    """The same vocabulary, BERT style: `[CLS] a [SEP]` and `[CLS] a [SEP] b [SEP]` with token_type_ids."""
    from tokenizers import Tokenizer, processors
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    cls_id, sep_id = backend.token_to_id(CLS), backend.token_to_id(SEP)
    backend.post_processor = processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}",
        pair=f"{CLS} $A {SEP} $B:1 {SEP}:1",
        special_tokens=[(CLS, cls_id), (SEP, sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        cls_token=CLS,
        sep_token=SEP,
        pad_token=PAD,
        mask_token=MASK,
        unk_token=UNK,
        padding_side="right",
        truncation_side="right",
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


def corpus_texts() -> list[str]:
    """The text the tiny tokenizer learns from, in a fixed order (so training is deterministic).

    Prefers the shipped sample data (articles + every headline in the ratings files), then the
    synthetic newsroom generator, then a small built-in set of sentences.
    """
    texts = _sample_data_texts()
    if not texts:
        texts = _synth_texts()
    if not texts:
        texts = _builtin_texts()
    # "Article: ...\nHeadline:" is the policy's prompt: let BPE learn those pieces too.
    return texts + ["Article: \nHeadline: "] * 50


def _sample_data_texts() -> list[str]:
    folder = paths.sample_data_dir()
    files = sorted(folder.glob("articles*.csv")) + sorted(folder.glob("*_ratings*.csv"))
    texts: list[str] = []
    for path in files:
        try:
            with open(path, newline="", encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    for key in ("article", "reference", "headline"):
                        value = (row.get(key) or "").strip()
                        if value:
                            texts.append(value)
        except (OSError, UnicodeDecodeError, csv.Error):
            continue
    return texts


def _synth_texts() -> list[str]:
    try:
        from rlhf_core.data import synth
    except ImportError:
        return []
    make = getattr(synth, "generate_articles", None)
    if make is None:
        return []
    try:
        items = make(300, seed=0)
    except TypeError:
        try:
            items = make(n=300, seed=0)
        except Exception:
            return []
    except Exception:
        return []
    texts: list[str] = []
    rows = items.to_dict("records") if hasattr(items, "to_dict") else list(items)
    for item in rows:
        record = item if isinstance(item, dict) else getattr(item, "__dict__", {})
        for key in ("article", "text", "body", "reference", "headline", "title"):
            value = record.get(key)
            if isinstance(value, str) and value.strip():
                texts.append(value.strip())
    return texts


def _builtin_texts() -> list[str]:
    """A small deterministic newsroom, used only when neither sample data nor the generator exist."""
    actors = ["City council", "Riverside Hospital", "Northfield United", "State university", "Acme Corp",
              "The weather service", "County health board", "Tech startup Lumen"]
    actions = ["approves", "rejects", "announces", "delays", "wins", "cuts", "opens", "reports"]
    objects = ["budget plan", "new clinic", "championship final", "research grant", "factory expansion",
               "storm warning", "vaccine program", "app launch"]
    places = ["Springfield", "Lakeside", "Oakdale", "Port Ellis", "Millbrook"]
    texts = []
    for i in range(400):
        a, v, o, p = actors[i % 8], actions[(i * 3) % 8], objects[(i * 5) % 8], places[(i * 7) % 5]
        n = 10 + (i * 37) % 90
        texts.append(
            f"{a} {v} a ${n} million {o} in {p} on Tuesday. Officials said the decision follows months "
            f"of debate, and {n} percent of residents were consulted. The {o} is expected to take effect next year."
        )
        texts.append(f"{a} {v} ${n} million {o} in {p}")
    return texts


def tiny_tokenizer():
    """The tiny presets' tokenizer: the shipped preset's, else trained once and cached under
    models_dir()/tiny-tokenizer (training on `corpus_texts()` gives the shipped one: a test checks it)."""
    from transformers import PreTrainedTokenizerFast

    from rlhf_core.models.offline import FileLock, remove_stale_temp_dirs

    folder = SHIPPED_DIR if (SHIPPED_DIR / "tokenizer.json").is_file() else paths.models_dir() / TOKENIZER_DIR
    if not (folder / "tokenizer.json").is_file():
        with _lock, FileLock(folder.parent / f".{folder.name}.lock"):  # threads, then processes
            if not (folder / "tokenizer.json").is_file():
                remove_stale_temp_dirs(folder)
                _save_atomically(train_tokenizer(corpus_texts()), folder)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(folder))
    tokenizer.padding_side = "left"
    tokenizer.model_input_names = ["input_ids", "attention_mask"]
    return tokenizer


def _save_atomically(tokenizer, folder: Path) -> None:
    import os
    import shutil

    from rlhf_core.paths import make_temp_dir

    tmp = make_temp_dir(folder)
    try:
        tokenizer.save_pretrained(str(tmp))
        if folder.exists():  # a leftover without tokenizer.json (an older crash)
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def tiny_policy_config(tokenizer):
    """GPT-2 with ~1M parameters: 4 layers, d_model 128, 4 heads, a 256-token context."""
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=TINY_CONTEXT,
        n_embd=128,
        n_layer=4,
        n_head=4,
        n_inner=512,
        resid_pdrop=0.0,  # dropout off: tiny models on tiny data, and PPO ratios need determinism
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )


def tiny_reward_config(tokenizer):
    """BERT with ~1M parameters and a scalar head (num_labels=1): 4 layers, hidden 128, 4 heads."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=512,
        max_position_embeddings=512,
        type_vocab_size=2,
        pad_token_id=tokenizer.pad_token_id,
        num_labels=1,
        problem_type="regression",
    )
