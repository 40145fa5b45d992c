"""Correct misspelled words against the corpus's own vocabulary ("petine" -> "pettine").

Only words the corpus never uses are touched, and only when a corpus word is close enough, so a
correct word is never changed and nothing outside the corpus is invented.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from pathlib import Path

from clbp_chat.text import STOPWORDS

MIN_LENGTH = 4
CUTOFF = 0.8
MAX_LENGTH_CHANGE = 2


# Chat shorthand patients type, spelled out before anything else looks at the question.
SHORTHAND = {
    "ppl": "people",
    "pts": "patients",
    "meds": "medicines",
    "med": "medicine",
    "u": "you",
    "ur": "your",
    "abt": "about",
    "bc": "because",
    "b/c": "because",
    "tho": "though",
    "grp": "group",
    "grps": "groups",
    "w/": "with",
    "w/o": "without",
    "yrs": "years",
    "mos": "months",
    "whats": "what is",
    "what's": "what is",
    "hows": "how is",
    "side-effects": "side effects",
    "sx": "symptoms",
    "tx": "treatment",
}


@lru_cache(maxsize=2)
def english_for(model: str) -> frozenset[str]:
    """:func:`english_words` of the model a setting names (``CLBP_EMBEDDING_MODEL``), read once
    per process: the index's speller, the gate and the readability check share it."""
    from clbp_chat.embeddings import resolve_model_path

    return english_words(resolve_model_path(model))


def english_words(model_path: str) -> frozenset[str]:
    """Whole words of the embedding model's WordPiece vocabulary: real English, never 'corrected'.

    A model without a ``vocab.txt`` gives an empty set, and correction then only spares corpus words.
    """
    path = Path(model_path) / "vocab.txt"
    if not path.is_file():
        return frozenset()
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(w for w in lines if w.isalpha() and w.islower() and len(w) >= MIN_LENGTH)


class Speller:
    """Corrects question words to corpus words; words it cannot place are 'unknown'."""

    def __init__(self, vocabulary: list[str], english: frozenset[str] = frozenset()) -> None:
        self.vocabulary = frozenset(vocabulary)
        self.english = english
        self._candidates: dict[str, list[str]] = {}
        for w in sorted(self.vocabulary):
            if len(w) >= MIN_LENGTH:
                self._candidates.setdefault(w[0], []).append(w)
        self._closest = lru_cache(maxsize=4096)(self._closest_uncached)

    def _closest_uncached(self, word: str) -> str | None:
        # Typos rarely change the first letter; requiring it keeps "fusion" from becoming "diffusion".
        # A typo adds, drops or swaps a letter or two; "sceptical" is not a misspelling of "septic".
        candidates = [
            c
            for c in self._candidates.get(word[0], [])
            if abs(len(c) - len(word)) <= MAX_LENGTH_CHANGE
        ]
        match = difflib.get_close_matches(word, candidates, n=1, cutoff=CUTOFF)
        return match[0] if match else None

    def correct(self, text: str) -> str:
        """``text`` with each unknown word of four letters or more replaced by its closest corpus word."""

        def fix(m: re.Match[str]) -> str:
            word = m.group(0)
            lower = word.lower()
            if (
                len(lower) < MIN_LENGTH
                or lower in self.vocabulary
                or lower in STOPWORDS
                or lower in self.english
            ):
                return word
            return self._closest(lower) or word

        text = re.sub(
            r"(?<![\w/])(?:"
            + "|".join(map(re.escape, sorted(SHORTHAND, key=len, reverse=True)))
            + r")(?![\w/])",
            lambda m: SHORTHAND[m.group(0).lower()],
            text,
            flags=re.I,
        )
        return re.sub(r"[A-Za-z][A-Za-z'-]*[A-Za-z]", fix, text)
