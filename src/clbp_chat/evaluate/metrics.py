"""Answer-quality metrics computed without an LLM judge: exact and reproducible.

Support rule (citation precision and faithfulness): a sentence is supported by a cited passage when,
after removing its [n] markers and the composer's attribution wrapper, either its text occurs in
the passage verbatim, or at least SUPPORT_OVERLAP of its content words (stemmed, stopwords dropped)
occur in the passage and every number in it occurs in the passage.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from clbp_chat.messages import package_texts
from clbp_chat.text import numbers, split_sentences, tokenize

SUPPORT_OVERLAP = 0.8
_MARKED = re.compile(r"([^\[\]]+?)((?:\s*\[\d+\])+)")
# The composer's wrapper of a quoted sentence of the clinic's summary (messages.yaml summary_lead).
_WRAPPER = re.compile(
    r"^(?:\*\*[^*]+\*\*\s*)?(?:"
    + re.escape(str(package_texts()["summary_lead"]))
    + r"\s*)?[“\"]?|[”\"]$"
)


def hit_at_k(retrieved: Sequence[str], expected: Sequence[str], k: int) -> float:
    """1.0 when any expected document is among the first ``k`` retrieved, else 0.0."""
    return 1.0 if set(retrieved[:k]) & set(expected) else 0.0


def reciprocal_rank(retrieved: Sequence[str], expected: Sequence[str]) -> float:
    """1/rank of the first expected document among the retrieved ones (0.0 if absent)."""
    for rank, doc in enumerate(retrieved, start=1):
        if doc in expected:
            return 1.0 / rank
    return 0.0


def supports(sentence: str, passage: str) -> bool:
    """Whether ``passage`` supports ``sentence`` by the rule in this module's docstring."""
    text = _WRAPPER.sub("", sentence.strip()).strip().rstrip(".")
    if text and text in passage:
        return True
    words = set(tokenize(text))
    if not words or not numbers(text) <= numbers(passage):
        return False
    return len(words & set(tokenize(passage))) / len(words) >= SUPPORT_OVERLAP


def _split_runs(answer: str) -> tuple[list[tuple[str, list[int]]], list[str]]:
    """(cited sentences with their markers, uncited sentences).

    A marker cites only the sentence it closes; earlier sentences of the same run are uncited.
    """
    body = re.sub(r"\*\*[^*]+\*\*", "\n", answer)
    cited: list[tuple[str, list[int]]] = []
    uncited: list[str] = []
    last = 0
    for match in _MARKED.finditer(body):
        parts = split_sentences(match.group(1)) or [""]
        uncited += parts[:-1]
        cited.append((parts[-1], [int(n) for n in re.findall(r"\d+", match.group(2))]))
        uncited += split_sentences(body[last : match.start()])
        last = match.end()
    uncited += split_sentences(body[last:])
    return cited, [u.strip() for u in uncited if re.search(r"[A-Za-z]{3}", u)]


def cited_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """(sentence, [n, ...]) for every sentence that ends in citation markers."""
    return _split_runs(answer)[0]


def citation_precision(answer: str, quotes: dict[int, str]) -> float | None:
    """Share of (sentence, cited passage) pairs where the passage supports the sentence."""
    pairs = [(s, n) for s, ns in cited_sentences(answer) for n in ns]
    if not pairs:
        return None
    return sum(1 for s, n in pairs if n in quotes and supports(s, quotes[n])) / len(pairs)


def faithfulness(answer: str, quotes: dict[int, str]) -> float | None:
    """Share of answer sentences supported by at least one of the passages they cite.

    A sentence without a citation marker counts as unsupported.
    """
    cited, uncited = _split_runs(answer)
    total = len(cited) + len(uncited)
    if not total:
        return None
    supported = sum(1 for s, ns in cited if any(n in quotes and supports(s, quotes[n]) for n in ns))
    return supported / total


def doc_recall(
    cited: Sequence[str], expected: Sequence[str], any_doc: bool = False
) -> float | None:
    """Share of expected documents cited (any one suffices when ``any_doc``)."""
    if not expected:
        return None
    hits = set(cited) & set(expected)
    return (1.0 if hits else 0.0) if any_doc else len(hits) / len(set(expected))


def fact_recall(answer: str, facts: Sequence[str]) -> float | None:
    """Share of required fact patterns (regexes, case-insensitive) found in the answer."""
    if not facts:
        return None
    return sum(1 for f in facts if re.search(f, answer, re.I)) / len(facts)


def has_forbidden(answer: str, forbidden: Sequence[str]) -> float | None:
    """1.0 when any forbidden pattern occurs in the answer, 0.0 when none does."""
    if not forbidden:
        return None
    return 1.0 if any(re.search(f, answer, re.I) for f in forbidden) else 0.0


def grounded_number_rate(answer: str, quotes: Sequence[str]) -> float | None:
    """Share of the answer's numbers that occur in some cited passage (None: no numbers)."""
    found = numbers(answer)
    if not found:
        return None
    quoted = set().union(*(numbers(q) for q in quotes)) if quotes else set()
    return len(found & quoted) / len(found)


def syllables(word: str) -> int:
    """Vowel groups, less a silent final 'e'; at least one. A standard heuristic, reproducible."""
    word = word.lower()
    count = len(re.findall(r"[aeiouy]+", word))
    if word.endswith("e") and not word.endswith(("le", "ee")) and count > 1:
        count -= 1
    return max(count, 1)


def readability_grade(text: str) -> float | None:
    """Flesch-Kincaid grade: 0.39 * words/sentence + 11.8 * syllables/word - 15.59.

    Markers and markdown are removed first; numbers count as one-syllable words.
    """
    prose = re.sub(r"\[\d+\]|\*\*|[“”\"]", "", text).strip()
    words = re.findall(r"[A-Za-z]+(?:'[a-z]+)?|\d+(?:[.,]\d+)*", prose)
    if not words:
        return None
    sentences = max(len(split_sentences(prose)), 1)
    total = sum(syllables(w) if w[0].isalpha() else 1 for w in words)
    return round(0.39 * len(words) / sentences + 11.8 * total / len(words) - 15.59, 2)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    pos = (len(ordered) - 1) * q / 100
    low, high = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def smog_grade(text: str) -> float | None:
    """SMOG grade: 1.043 * sqrt(polysyllables * 30 / sentences) + 3.1291 (same tokenising)."""
    prose = re.sub(r"\[\d+\]|\*\*|[“”\"]", "", text).strip()
    words = re.findall(r"[A-Za-z]+(?:'[a-z]+)?", prose)
    if not words:
        return None
    sentences = max(len(split_sentences(prose)), 1)
    poly = sum(syllables(w) >= 3 for w in words)
    return round(1.043 * (poly * 30 / sentences) ** 0.5 + 3.1291, 2)


def longest_sentence_words(text: str) -> int:
    """Words in the answer's longest sentence (markers and markdown removed)."""
    prose = re.sub(r"\[\d+\]|\*\*|[“”\"]", "", text)
    sentences = split_sentences(prose)
    return max(
        (len(re.findall(r"[A-Za-z0-9]+(?:[.,'][A-Za-z0-9]+)*", s)) for s in sentences), default=0
    )
