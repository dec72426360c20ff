"""How an article becomes a prompt, and how a completion becomes a headline.

Two prompt styles:
- `chat` (instruct models with a chat template, e.g. SmolLM2-Instruct): a system message with the
  instruction and a user message with the article, rendered by `tokenizer.apply_chat_template`
  with `add_generation_prompt=True` so the model answers as the assistant.
- `plain` (base models and the tiny GPT-2): `Article: {article}\\nHeadline:`, the format the tiny
  policy is SFT-trained on, and the seed's implicit one.

Articles are cut (by tokens, keeping their beginning, where news puts the facts) so that the
prompt plus the new tokens fit the model's context window; the seed's `max_length=64` silently
cut 512-token prompts instead.
"""

from __future__ import annotations

import re

INSTRUCTION = "Write a short, accurate news headline for this article."
PLAIN_TEMPLATE = "Article: {article}\nHeadline:"
DEFAULT_MAX_NEW_TOKENS = 24
MAX_ARTICLE_TOKENS = 384  # even for long-context models: headlines need the lede, not the whole story


def context_length(model_or_config) -> int | None:
    """The model's context window in tokens (None when the config does not say)."""
    config = getattr(model_or_config, "config", model_or_config)
    for key in ("n_positions", "max_position_embeddings", "n_ctx", "max_sequence_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _render(tokenizer, article: str, style: str) -> str:
    if style == "chat":
        messages = [
            {"role": "system", "content": INSTRUCTION},
            {"role": "user", "content": article},
        ]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if style == "plain":
        return PLAIN_TEMPLATE.format(article=article)
    raise ValueError(f"Unknown prompt style '{style}': use 'chat' or 'plain'.")


def truncate_article(tokenizer, article: str, max_tokens: int) -> str:
    """Keep the first `max_tokens` tokens of the article (the lede), cut at a word boundary."""
    article = " ".join(str(article).split())  # one line: newlines would end a plain prompt early
    ids = tokenizer(article, add_special_tokens=False)["input_ids"]
    if len(ids) <= max_tokens:
        return article
    if max_tokens <= 0:
        return ""
    cut = tokenizer.decode(ids[:max_tokens], skip_special_tokens=True)
    if " " in cut:
        cut = cut[: cut.rfind(" ")]  # do not end on half a word
    return cut.rstrip() + " ..."


def build_prompt(
    bundle_or_tokenizer,
    article: str,
    style: str | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    context: int | None = None,
) -> str:
    """The prompt text for one article.

    Args:
        bundle_or_tokenizer: a PolicyBundle (gives tokenizer, style and context) or a tokenizer.
        article: the news article.
        style: "chat" or "plain"; default: the bundle's style, else "chat" when the tokenizer
            has a chat template.
        max_new_tokens: room left in the context for the headline.
        context: the context window; default: the bundle model's, else 1024.
    Returns:
        The prompt string (special tokens included for chat style; encode it without adding more).
    """
    tokenizer = getattr(bundle_or_tokenizer, "tokenizer", bundle_or_tokenizer)
    if style is None:
        style = getattr(bundle_or_tokenizer, "prompt_style", None)
    if style is None:
        style = "chat" if getattr(tokenizer, "chat_template", None) else "plain"
    if context is None:
        model = getattr(bundle_or_tokenizer, "model", None)
        context = (context_length(model) if model is not None else None) or 1024
    overhead = len(tokenizer(_render(tokenizer, "", style), add_special_tokens=False)["input_ids"])
    budget = min(MAX_ARTICLE_TOKENS, context - max_new_tokens - overhead - 4)  # 4: ellipsis + slack
    return _render(tokenizer, truncate_article(tokenizer, article, budget), style)


_PREFIX = re.compile(r"^\s*(?:#+\s*)?(?:\*\*)?\s*(?:headline|title)\s*[:\-]\s*(?:\*\*)?\s*", re.IGNORECASE)
_QUOTES = "\"'`\u201c\u201d\u2018\u2019\u00ab\u00bb*"


def clean_headline(text: str) -> str:
    """The headline inside a completion: first non-empty line, no "Headline:" prefix, no quotes.

    >>> clean_headline('  "Headline: Council approves $42M budget"\\nThe council said...')
    'Council approves $42M budget'
    """
    text = str(text).replace("\r", "\n")
    for marker in ("<|endoftext|>", "<|im_end|>", "</s>", "<|pad|>"):
        text = text.split(marker)[0]
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    headline = lines[0] if lines else ""
    for _ in range(2):  # 'Headline: "..."' and '"Headline: ..."' both occur
        headline = _PREFIX.sub("", headline).strip().strip(_QUOTES).strip()
    return " ".join(headline.split())
