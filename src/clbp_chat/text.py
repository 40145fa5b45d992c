"""Small text helpers shared by the keyword index, the composer, the safety gate and the evals."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

import yaml

from clbp_chat.errors import ConfigError

HERE = Path(__file__).parent


def word_list(name: str) -> frozenset[str]:
    """A list of lower-case words from a data file beside this module; anything else in it (a
    bare ``no`` that YAML reads as false, a phrase) is a one-line start-up error."""
    data = yaml.safe_load((HERE / name).read_text(encoding="utf-8"))
    bad = [w for w in data or [] if not (isinstance(w, str) and re.fullmatch(r"[a-z0-9]+", w))]
    if not isinstance(data, list) or bad:
        raise ConfigError(f"{name}: each item must be one lower-case word (quote yes, no, on, off)")
    return frozenset(data)


# Words that carry no topic ("the", "please", "dont"): dropped before keyword search and scoring.
STOPWORDS = word_list("stopwords.yaml")
# Control characters a typed question never holds (tab, newline and carriage return are fine).
CONTROL_CHARS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
# Every character str.strip() removes, spelled out: regex engines disagree on what \s holds
# (JSON Schema's ECMAScript \s lacks U+0085), and a question of only these is empty.
WHITESPACE_CHARS = (
    r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)


def normalize(text: str) -> str:
    """Lower case, compatibility forms folded (fullwidth letters), apostrophes dropped ("can't" ->
    "cant"), spaces folded: how rules read text."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'").replace("‘", "'")
    text = re.sub(r"(\w)'(\w)", r"\1\2", text)
    return re.sub(r"[ \t]+", " ", text)


def name_form(text: str) -> str:
    """How a document's names and a message are compared: lower case, only letters, digits, "&"
    and apostrophes, single spaces ("One-page summary" -> "one page summary")."""
    return " ".join(re.sub(r"[^a-z0-9&' ]+", " ", text.lower()).split())


def is_text(value: str) -> bool:
    """False for a string that cannot be UTF-8 (a lone surrogate: valid JSON, but no text)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_TOKEN = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
# Where corpus text (and an answer made of it) breaks into sentences: a full stop before a capital,
# a digit or an opening quote; "e.g. the" and "0.05" do not break.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9“\"'(])|\n+")
# Where a patient's message breaks into sentences: patients write in lower case, so any space after
# a full stop breaks (as the rules read it, lower-cased).
_MESSAGE_BREAK = re.compile(r"(?<=[.!?\n])\s+|\n+")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")


_WORD = re.compile(r"[a-z][a-z'-]*[a-z]|[a-z]")


def words(text: str) -> list[str]:
    """Lower-cased alphabetic words, unstemmed (for spelling correction against the corpus)."""
    return _WORD.findall(text.lower())


def stem(token: str) -> str:
    """A light English stemmer: enough to match 'studies'/'study', 'patients'/'patient'."""
    if len(token) <= 3 or token.isdigit():
        return token
    for suffix, repl in (
        ("izations", ""),
        ("ization", ""),
        ("ized", ""),
        ("ised", ""),
        ("izes", ""),
        ("ize", ""),
        ("ies", "y"),
        ("sses", "ss"),
        ("ing", ""),
        ("ed", ""),
        ("s", ""),
    ):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            return token[: -len(suffix)] + repl if suffix != "s" or token[-2] != "s" else token
    return token


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed content words (stopwords dropped)."""
    return [stem(t) for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


def split_statements(text: str) -> list[str]:
    """The quotable units of a corpus passage: one line each (one or two short sentences that
    belong together, so a unit never points back to a sentence the answer left out)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # A short line without a full stop is a heading ("Key Insights"), not something to quote.
    return [line for line in lines if line.endswith((".", "!", "?")) or len(line.split()) >= 5]


def split_sentences(text: str) -> list[str]:
    """Sentences of corpus text or of an answer made of it (the composer and the evals split
    alike); corpus documents keep one sentence per line where they can."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def split_message(text: str) -> list[str]:
    """Sentences of a patient's message: the safety gate, the learned layer and understanding
    read the same sentences."""
    return [s.strip() for s in _MESSAGE_BREAK.split(text) if s.strip()]


def message_sentence_at(text: str, pos: int) -> tuple[int, str]:
    """(start, sentence) of the message sentence holding position ``pos``: where a match's
    context rules look."""
    start = 0
    for m in _MESSAGE_BREAK.finditer(text):
        if m.start() >= pos:
            return start, text[start : m.start()]
        start = m.end()
    return start, text[start:]


def numbers(text: str) -> set[str]:
    """Every number written in digits, normalised ('2,713' -> '2713'), ignoring citation markers."""
    without_markers = re.sub(r"\[\d+\]", " ", text)
    return {n.replace(",", "") for n in _NUMBER.findall(without_markers)}


def term_compiler(terms: dict[str, str]) -> Callable[[str], re.Pattern[str]]:
    """Compiles a rule file's pattern with its ``{term}`` names filled in from the file's terms, so a
    long alternation (the parts of the body, the people a question may be for) is written once."""

    def compile_(pattern: str) -> re.Pattern[str]:
        for _ in range(3):  # a term may use terms defined before it ({down_below} uses {below})
            for name, value in reversed(terms.items()):
                pattern = pattern.replace("{" + name + "}", value)
        return re.compile(pattern)

    return compile_
