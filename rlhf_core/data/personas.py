"""Value personas: gold scoring functions over ANY (article, headline) text pair.

A persona stands in for a human rater whose values we know exactly. That is what makes the
synthetic newsroom useful for teaching RLHF: the reward model is trained on the persona's noisy
1-5 ratings, and the policy's headlines can then be checked against the persona's noise-free
*gold* score, so "the proxy reward went up but the gold score went down" (reward hacking) is
visible on a chart.

Every persona works on plain text with regular expressions, never on the generator's templates,
so it can score a policy's sample or a hand-written real headline. Scoring has two steps:

1. `extract_features(article, headline)` measures the headline: length, how many of its numbers
   and proper names the article supports, how many of the article's key words it carries,
   clickbait / emotion / superlative words, '!', '?', ALL CAPS, repetition, copying.
2. Each persona combines the features into a score in [0, 1]. Terms are multiplied, so one bad
   trait (a wrong number for the wire editor, no hook for the tabloid) pulls the score down,
   while partial credit everywhere keeps the score smooth enough to learn and to give RL a
   gradient.

`Persona.rate` adds rater noise (Gaussian, sd ~0.1 on the [0, 1] gold scale) and buckets the
result into a 1-5 star rating, as a human annotator would give.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from rlhf_core.errors import StudioError

# ----------------------------------------------------------------------------------------------
# Word lists (lower case). Kept short and readable; they are the persona's "values".

STOPWORDS = frozenset(
    """a an the and or but nor so yet of in on at to for from by with without about as into onto
    over under after before during since until than then this that these those it its it's is are was
    were be been being am do does did done has have had having will would shall should can could may
    might must not no yes up down out off again once here there when where why how what which who whom
    whose all any both each few more most other some such only own same too very just also now new
    says said say he she they them their his her him we us our you your i me my mine ours theirs
    one per via amid against among across through around near while if because though although
    s t""".split()
)

CLICKBAIT_PHRASES = (
    "you won't believe", "you will not believe", "won't believe", "what happened next", "what happens next",
    "will blow your mind", "blow your mind", "will shock you", "will surprise you", "will leave you",
    "this is why", "here's why", "everyone in", "is talking about", "talking about", "never be the same", "here is why", "here's what", "here is what", "the real reason",
    "the truth about", "what you need to know", "need to know", "can't stop talking", "everyone is talking",
    "you need to see", "must see", "must-see", "nobody expected", "no one expected", "find out", "the secret",
    "secret behind", "one thing", "this one", "just did", "changed everything", "change everything",
    "jaw-dropping", "mind-blowing", "goes viral", "gone viral", "breaks the internet", "left speechless",
    "speechless", "you'll never guess", "never guess", "is this the end", "the end for", "unbelievable",
    "insane", "epic", "omg", "wow",
)

EMOTION_WORDS = frozenset(
    """shock shocking shocked stunning stunned stuns outrage outraged fury furious chaos chaotic panic
    horror horrifying terrifying terror devastating devastated heartbreak heartbreaking heartbroken
    disaster disastrous catastrophe catastrophic nightmare bombshell meltdown slams slammed blasts
    blasted explosive scandal carnage frenzy mayhem agony miracle miraculous thrilling sensational
    incredible amazing astonishing dramatic drama crisis brutal savage fears fear scary tragic tragedy
    explodes erupts erupted rage humiliating humiliation triumph glory huge fallout massive""".split()
)

SUPERLATIVES = frozenset(
    """biggest best worst greatest largest smallest highest lowest ever craziest wildest fastest
    strongest deadliest richest hottest coldest most record-breaking unprecedented historic""".split()
)

NUMBER_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "hundred": 100, "dozen": 12, "half": 0.5,
}
MULTIPLIERS = {
    "thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "mln": 1e6, "billion": 1e9, "bn": 1e9, "b": 1e9,
    "trillion": 1e12, "tn": 1e12,
}

# Direction words on two axes. A headline that goes UP where the article's lead only goes DOWN
# (or approves what the lead rejects) contradicts the story: "profit falls" for "profit rose".
DIRECTION_AXES = (
    ("""rise climb gain increase jump surge grow up higher lift raise boost soar add expand hire
        recruit open extend""".split(),
     """fall drop decline dip slide plunge sink decrease down lower cut shrink reduce slash fewer less
        loss lose lay axe sack close shut""".split()),
    ("""approve back pass accept endorse adopt agree sign win beat victory award""".split(),
     """reject block deny refuse veto scrap cancel lose defeat fail withdraw""".split()),
)

# ----------------------------------------------------------------------------------------------
# Regular expressions.

_TOKEN_RE = re.compile(r"\$?\d[\d,]*(?:\.\d+)?%?|[A-Za-z][A-Za-z'’\-]*")
NUMBER_RE = re.compile(
    r"(?<![\w.])\$?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?\s*(%|percent\b|per cent\b)?"
    r"(?:\s*-?\s*(thousand|million|billion|trillion|mln|bn|tn|k|m|b)\b)?",
    re.IGNORECASE,
)
_NUMBER_WORD_RE = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", re.IGNORECASE)
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])[\"”']?\s+(?=[\"“A-Z0-9])")


def tokenize(text: str) -> list[str]:
    """Words and numbers of `text`, in order ("$4.5", "12%", "don't", "co-op" stay whole)."""
    tokens = [token.replace("’", "'") for token in _TOKEN_RE.findall(text or "")]
    # Possessives: "Ashford's" and "Networks'" are the names "Ashford" and "Networks".
    return [t[:-2] if t.endswith("'s") and len(t) > 3 else t.rstrip("'") or t for t in tokens]


_ABBREVIATIONS = ("St.", "Dr.", "Mr.", "Mrs.", "Ms.", "Jr.", "Sr.", "Inc.", "Co.", "Corp.", "Ltd.", "U.S.", "Gov.", "Sen.", "Rep.", "No.")


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences on . ! ? followed by a capital or a digit (not after 'St.', 'Dr.', ...)."""
    sentences: list[str] = []
    for part in _SENTENCE_SPLIT_RE.split((text or "").strip()):
        part = part.strip()
        if not part:
            continue
        if sentences and sentences[-1].endswith(_ABBREVIATIONS):
            sentences[-1] = f"{sentences[-1]} {part}"
        else:
            sentences.append(part)
    return sentences


IRREGULAR = {
    "rose": "rise", "risen": "rise", "fell": "fall", "fallen": "fall", "won": "win", "lost": "lose",
    "sold": "sell", "bought": "buy", "grew": "grow", "grown": "grow", "shrank": "shrink", "laid": "lay",
    "took": "take", "began": "begin", "ran": "run", "paid": "pay", "held": "hold", "drew": "draw",
    "drawn": "draw", "sank": "sink", "sunk": "sink", "hit": "hit", "cut": "cut", "spent": "spend",
}


@functools.lru_cache(maxsize=1 << 16)  # a pure function of one word, called for every word of every text scored
def stem(word: str) -> str:
    """A crude, deterministic stemmer: 'raises', 'raised', 'raising' -> 'rais'; 'rose' -> 'ris'; 6 letters at most.

    Porter-quality stemming is not needed: both sides of every comparison go through the same
    function, so all that matters is that inflections of one word usually meet.
    """
    word = word.lower().replace("'s", "").strip("'-")
    word = IRREGULAR.get(word, word)
    for suffix in ("ings", "ing", "ies", "ied", "es", "ed", "ly", "s", "e"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]  # 'cutt' (from 'cutting') -> 'cut'
    return word[:6]


def number_value(match: re.Match) -> float:
    """The value of one NUMBER_RE match: '$4.5 million' -> 4.5e6, '1,200' -> 1200, '12%' -> 12."""
    whole, decimals, _percent, multiplier = match.groups()
    value = float(whole.replace(",", "") + ("." + decimals if decimals else ""))
    return value * MULTIPLIERS[multiplier.lower()] if multiplier else value


def extract_numbers(text: str) -> list[float]:
    """Numeric values mentioned in `text`: '$4.5 million' -> 4.5e6, '12%' / '12 percent' -> 12, 'three' -> 3.

    Digits with a thousands separator, decimals, %, 'percent' and a million/billion multiplier are
    understood; years and scores are just numbers. Used to check that a headline's numbers are
    supported by its article.
    """
    values = [number_value(match) for match in NUMBER_RE.finditer(text or "")]
    for match in _NUMBER_WORD_RE.finditer(text or ""):
        values.append(float(NUMBER_WORDS[match.group(1).lower()]))
    return values


def same_number(a: float, b: float) -> bool:
    """Whether two figures are the same value (up to float rounding: 4.5e6 and 4,500,000)."""
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


# ----------------------------------------------------------------------------------------------
# Features.


@dataclass(frozen=True)
class HeadlineFeatures:
    """What a persona looks at. All values are plain floats/ints so they can be shown in a table."""

    n_words: int              # words + numbers in the headline
    n_content: int            # non-stopword words + numbers
    overlap: float            # share of headline content words found in the article (by stem)
    specificity: float        # 0..1: key facts of the article the headline carries (names, numbers, lead words)
    n_numbers: int            # numbers in the headline
    number_support: float     # share of the headline's numbers the article states (1.0 if none)
    n_entities: float         # proper names in the headline (weighted less where case alone cannot tell)
    entity_support: float     # share of those names the article mentions (1.0 if none)
    clickbait: float          # clickbait phrases found
    emotion: float            # emotional words
    superlatives: float       # superlatives ('biggest', 'ever', ...)
    exclamations: int         # '!'
    question_bait: float      # 1 if the headline is a teasing question
    contradictions: int       # direction words opposite to the lead's (rises vs fell, rejects vs approved)
    all_caps: int             # ALL-CAPS words not written so in the article (acronyms are fine)
    second_person: int        # 'you', 'your'
    repetition: float         # 0..1: share of repeated content words
    copy_ratio: float         # 0..1: share of headline 4-grams copied verbatim from the article
    length_score: float       # 1 inside the persona-neutral 5-12 word band, smooth fall-off outside

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@functools.cache
def _axes_stems() -> tuple[tuple[frozenset[str], frozenset[str]], ...]:
    return tuple((frozenset(map(stem, up)), frozenset(map(stem, down))) for up, down in DIRECTION_AXES)


@functools.lru_cache(maxsize=1024)
def _lead_stems(lead: str) -> frozenset[str]:
    """The stems of a lead's words, read once for all the headlines written for its article."""
    return frozenset(stem(t) for t in tokenize(lead) if t[0].isalpha())


def count_contradictions(lead: str, headline_tokens: list[str], axes: "tuple | None" = None) -> int:
    """How many direction axes the headline reverses relative to the article's lead sentence.

    An axis counts when the headline uses words of one side, and the lead uses the other side
    only (a lead that mentions both, "sales fell while services rose", proves nothing).
    `axes`: (up stems, down stems) per axis; DIRECTION_AXES' by default (the reader checks add magnitude and outcome words).
    """
    lead_stems = _lead_stems(lead)
    head_stems = {stem(t) for t in headline_tokens if t[0].isalpha()}
    count = 0
    for up, down in axes or _axes_stems():
        for same, opposite in ((up, down), (down, up)):
            if head_stems & same and not head_stems & opposite and lead_stems & opposite and not lead_stems & same:
                count += 1
    return count


def length_score(n_words: int, low: int = 5, high: int = 12, long_scale: float = 6.0) -> float:
    """1 inside [low, high] words; (n / low)^2 below, exp(-(n - high) / long_scale) above; 0 when empty.

    A fragment of one to three words ("Brinar Labs unveils") is not a headline, so the score
    falls fast below the band; a long headline is merely wordy, so it decays gently above it.
    """
    if n_words <= 0:
        return 0.0
    if n_words < low:
        return (n_words / low) ** 2
    if n_words <= high:
        return 1.0
    return math.exp(-(n_words - high) / long_scale)


@dataclass(frozen=True)
class _ArticleProfile:
    """What the features need from an article, computed once per article (RL scores many headlines of one)."""

    lower: frozenset[str]        # lower-cased tokens
    stems: frozenset[str]        # stems of its words
    names: frozenset[str]        # lower-cased words written with a capital mid-sentence
    upper: frozenset[str]        # ALL-CAPS tokens (acronyms the article itself uses)
    numbers: tuple[float, ...]
    lead_stems: frozenset[str]   # content-word stems of the first two sentences
    first_sentence: str
    grams4: frozenset[tuple[str, ...]]


@functools.lru_cache(maxsize=1024)
def _profile(article: str) -> _ArticleProfile:
    tokens = tokenize(article)
    sentences = split_sentences(article)
    names = {w.lower() for sentence in sentences for w in tokenize(sentence)[1:] if w[0].isupper()}
    lead = tokenize(" ".join(sentences[:2]))
    seq = [t.lower() for t in tokens]
    return _ArticleProfile(
        lower=frozenset(seq),
        stems=frozenset(stem(t) for t in tokens if t[0].isalpha()),
        names=frozenset(names),
        upper=frozenset(t for t in tokens if t.isupper()),
        numbers=tuple(extract_numbers(article)),
        lead_stems=frozenset(stem(t) for t in lead if t[0].isalpha() and t.lower() not in STOPWORDS),
        first_sentence=sentences[0] if sentences else "",
        grams4=frozenset(tuple(seq[i : i + 4]) for i in range(len(seq) - 3)),
    )


def extract_features(article: str, headline: str) -> HeadlineFeatures:
    """Measure `headline` against `article` with plain-text rules (regex, stopwords, a crude stemmer)."""
    a = _profile(article or "")
    headline = " ".join((headline or "").split())
    tokens = tokenize(headline)
    lower_tokens = [t.lower() for t in tokens]
    n_words = len(tokens)
    article_lower, article_stems, article_names = a.lower, a.stems, a.names

    # Content words of the headline (numbers count as content).
    content = [t for t in tokens if t[0].isdigit() or t[0] == "$" or (t.lower() not in STOPWORDS and len(t) > 1)]
    word_content = [t for t in content if t[0].isalpha()]
    supported = [t for t in word_content if t.lower() in article_lower or stem(t) in article_stems]
    overlap = len(supported) / len(word_content) if word_content else 0.0

    # Numbers: each must be stated in the article (any rendering: 12% = 12 percent, $4.5m = $4.5 million).
    numbers = extract_numbers(headline)
    number_hits = sum(any(same_number(v, w) for w in a.numbers) for v in numbers)
    number_support = number_hits / len(numbers) if numbers else 1.0

    # Proper names: capitalised, not a stopword, and either not the first word or a name the article knows.
    is_title_case = n_words >= 4 and sum(t[0].isupper() for t in tokens if t[0].isalpha()) >= 0.7 * max(
        1, sum(t[0].isalpha() for t in tokens)
    )
    # Each capitalised word gets a weight: 1 for a clear name (one the article uses mid-sentence,
    # an acronym, a capital mid-sentence); where case alone cannot tell (the first word, Title
    # Case) 0 if the article uses the word, else a smaller weight; ordinary words are skipped.
    entities: list[tuple[str, float]] = []
    for i, token in enumerate(tokens):
        low = token.lower()
        if not token[0].isupper() or low in STOPWORDS or len(token) < 2 or (token.isupper() and len(token) > 3):
            continue
        in_article = low in article_lower
        if low in article_names or token.isupper():  # a known name, or an acronym (ECB, NASA)
            entities.append((token, 1.0))
        elif i == 0 or is_title_case:
            if not in_article and stem(token) not in article_stems:
                # An unknown capitalised first word is a name if the next word is capitalised too
                # ("Delmar Airlines"); alone it may be an ordinary word ("Researchers"), so it weighs little.
                starts_name = i == 0 and not is_title_case and len(tokens) > 1 and tokens[1][0].isupper()
                entities.append((token, 1.0 if starts_name else 0.25 if i == 0 else 0.5))
        else:
            entities.append((token, 1.0))
    entity_weight = sum(w for _, w in entities)
    entity_hits = sum(w for t, w in entities if t.lower() in article_lower)
    entity_support = entity_hits / entity_weight if entity_weight else 1.0
    entity_names = {t for t, _ in entities}

    # Numbers weigh most, then names, then other key words of the lead; saturates around 4-5 hits.
    key_hits = 1.5 * number_hits + entity_hits + 0.5 * sum(stem(t) in a.lead_stems for t in word_content if t not in entity_names)
    specificity = 1.0 - math.exp(-key_hits / 2.0)

    raw_lower = headline.lower().replace("’", "'")
    clickbait = float(sum(phrase in raw_lower for phrase in CLICKBAIT_PHRASES))
    emotion = float(sum(t.strip("'") in EMOTION_WORDS for t in lower_tokens))
    superlatives = float(sum(t in SUPERLATIVES for t in lower_tokens))
    exclamations = headline.count("!")
    # A headline that asks instead of telling is bait (news headlines state what happened).
    question_bait = 1.0 if "?" in headline else 0.0
    all_caps = sum(1 for t in tokens if t.isalpha() and t.isupper() and len(t) >= 3 and t not in a.upper)
    second_person = sum(t in ("you", "your", "you're", "you'll", "yours") for t in lower_tokens)

    contradictions = count_contradictions(a.first_sentence, tokens)

    content_lower = [t.lower() for t in content]
    repetition = 1.0 - len(set(content_lower)) / len(content_lower) if content_lower else 0.0
    # Verbatim copying: share of the headline's word 4-grams that occur in the article.
    head_grams = [tuple(lower_tokens[i : i + 4]) for i in range(len(lower_tokens) - 3)]
    copy_ratio = sum(g in a.grams4 for g in head_grams) / len(head_grams) if head_grams else 0.0

    return HeadlineFeatures(
        n_words=n_words,
        n_content=len(content),
        overlap=overlap,
        specificity=specificity,
        n_numbers=len(numbers),
        number_support=number_support,
        n_entities=entity_weight,
        entity_support=entity_support,
        clickbait=clickbait,
        emotion=emotion,
        superlatives=superlatives,
        exclamations=exclamations,
        question_bait=question_bait,
        contradictions=contradictions,
        all_caps=all_caps,
        second_person=second_person,
        repetition=repetition,
        copy_ratio=copy_ratio,
        length_score=length_score(n_words),
    )


def degeneracy_factor(f: HeadlineFeatures) -> float:
    """1 for a normal headline; towards 0 for empty, repetitive or copied-out-of-the-article text."""
    if f.n_words == 0 or f.n_content == 0:
        return 0.0
    repeat = (1.0 - f.repetition) ** 2
    # Copying a long stretch of the article is not a headline (a short copied phrase is fine).
    copy = 1.0 - 0.7 * max(0.0, f.copy_ratio - 0.5) / 0.5 if f.n_words > 10 else 1.0
    return repeat * copy


# ----------------------------------------------------------------------------------------------
# The personas: each a weighting of the same features.


def _wire_editor(f: HeadlineFeatures) -> float:
    """Accuracy first (every number and name must be in the article), then specific and concise, no hype.

    A false headline is the worst a wire editor can run: each number or name the article does not
    support, and each direction word the lead contradicts, keeps only 5% of the score, so a fluent
    wrong fact ends below clickbait, which is merely poor. A headline that states no fact keeps 30%
    of its worth (a vague headline is dull, not wrong), and hype costs exp(-0.5) per unit.
    """
    wrong = f.n_numbers * (1.0 - f.number_support) + f.n_entities * (1.0 - f.entity_support)  # unsupported facts
    accuracy = 0.05**wrong * 0.05**f.contradictions
    substance = 0.3 + 0.7 * f.specificity * (0.6 + 0.4 * f.overlap)
    length = length_score(f.n_words, 5, 12, 6.0)
    hype = (
        1.2 * f.clickbait + 0.6 * f.emotion + 0.7 * min(f.exclamations, 3) + 0.5 * min(f.all_caps, 3)
        + 0.8 * f.question_bait + 0.3 * f.superlatives + 0.4 * f.second_person
    )
    return substance * (0.2 + 0.8 * length) * accuracy * math.exp(-0.5 * hype)


def _tabloid_editor(f: HeadlineFeatures) -> float:
    """Engagement first (hooks, emotion, '!', superlatives, teasing questions); names from the story; mild accuracy."""
    hook = (
        1.0 * f.clickbait + 0.7 * f.emotion + 0.5 * min(f.exclamations, 2) + 0.4 * min(f.all_caps, 2)
        + 0.5 * f.superlatives + 0.6 * f.question_bait + 0.3 * min(f.second_person, 2)
    )
    engagement = 1.0 - math.exp(-hook)
    relevance = 0.55 + 0.45 * f.specificity
    accuracy = (0.7 + 0.3 * f.number_support * (f.entity_support if f.n_entities else 1.0)) * 0.85**f.contradictions
    length = length_score(f.n_words, 5, 14, 5.0)
    return (0.2 + 0.8 * engagement) * relevance * accuracy * (0.3 + 0.7 * length)


def _neutral_reader(f: HeadlineFeatures) -> float:
    """Clarity: tells me what happened in a readable length; dislikes hype, less strict about exact facts."""
    clarity = f.specificity * (0.5 + 0.5 * f.overlap) * (0.2 + 0.8 * length_score(f.n_words, 5, 14, 8.0))
    accuracy = (0.55 + 0.45 * f.number_support) * (0.55 + 0.45 * f.entity_support if f.n_entities else 1.0)
    accuracy *= 0.6**f.contradictions
    hype = (
        0.6 * f.clickbait + 0.25 * f.emotion + 0.3 * min(f.exclamations, 3) + 0.3 * min(f.all_caps, 3)
        + 0.5 * f.question_bait + 0.15 * f.superlatives + 0.2 * f.second_person
    )
    return 0.05 + 0.95 * clarity * accuracy * math.exp(-hype)


@dataclass(frozen=True)
class Persona:
    """A rater with known values: `score` is the noise-free gold score, `rate` a noisy 1-5 rating."""

    name: str
    description: str
    combine: Callable[[HeadlineFeatures], float] = field(repr=False)
    rater_noise_sd: float = 0.08  # sd of the Gaussian noise added to the gold score before bucketing

    def features(self, article: str, headline: str) -> HeadlineFeatures:
        return extract_features(article, headline)

    def score(self, article: str, headline: str) -> float:
        """Gold score in [0, 1] of `headline` for `article` (deterministic; any text)."""
        f = extract_features(article, headline)
        value = self.combine(f) * degeneracy_factor(f)
        return float(min(1.0, max(0.0, round(value, 6))))

    def explain(self, article: str, headline: str) -> dict[str, Any]:
        """The features and the score, for showing why a headline scored as it did."""
        f = extract_features(article, headline)
        return {**f.as_dict(), "degeneracy_factor": degeneracy_factor(f), "score": self.score(article, headline)}

    def rate(self, article: str, headline: str, rng) -> int:
        """A 1-5 star rating: gold + N(0, rater_noise_sd), clipped to [0, 1], cut into 5 equal buckets.

        Args:
            rng: a `numpy.random.Generator` or a `random.Random` (the only randomness used).
        """
        noise = rng.normal(0.0, self.rater_noise_sd) if hasattr(rng, "normal") else rng.gauss(0.0, self.rater_noise_sd)
        noisy = min(1.0, max(0.0, self.score(article, headline) + float(noise)))
        return 1 + min(4, int(noisy * 5))


PERSONAS: dict[str, Persona] = {
    "wire_editor": Persona(
        "wire_editor",
        "A news-agency editor: every number and name must be in the article, the headline says what "
        "happened in 5-12 words, and clickbait, '!', teasing questions and ALL CAPS are marked down.",
        _wire_editor,
        rater_noise_sd=0.08,
    ),
    "tabloid_editor": Persona(
        "tabloid_editor",
        "A tabloid editor: wants a hook (emotion, 'you won't believe', superlatives, '!'), names from the "
        "story, and cares only mildly whether every fact is exact.",
        _tabloid_editor,
        rater_noise_sd=0.10,
    ),
    "neutral_reader": Persona(
        "neutral_reader",
        "An ordinary reader: likes a clear headline that says what happened at a readable length, dislikes "
        "hype, and is less strict than the wire editor about exact facts.",
        _neutral_reader,
        rater_noise_sd=0.12,
    ),
}


def get_persona(name: str) -> Persona:
    """The persona called `name`; a StudioError listing the valid names otherwise."""
    try:
        return PERSONAS[name]
    except (KeyError, TypeError):
        raise StudioError(f"unknown persona {name!r}; choose one of: {', '.join(sorted(PERSONAS))}") from None
