"""Correct misspelled words against the corpus's own vocabulary ("petine" -> "pettine").

Only words the corpus never uses are touched, and only when a corpus word is close enough, so a
correct word is never changed and nothing outside the corpus is invented.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from pathlib import Path

import yaml

from clbp_chat.errors import ConfigError
from clbp_chat.text import STOPWORDS
from clbp_chat.tuning import tuning

SHORTHAND_FILE = Path(__file__).with_name("shorthand.yaml")


@lru_cache(maxsize=1)
def shorthand() -> dict[str, str]:
    """Chat shorthand and what it stands for (``shorthand.yaml``): "ppl" -> "people"."""
    data = yaml.safe_load(SHORTHAND_FILE.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ConfigError(f"{SHORTHAND_FILE.name}: each line must be 'shorthand: words'")
    return {k.lower(): v for k, v in data.items()}


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
    shortest = tuning().spelling.min_length
    return frozenset(w for w in lines if w.isalpha() and w.islower() and len(w) >= shortest)


class Speller:
    """Corrects question words to corpus words; words it cannot place are 'unknown'."""

    def __init__(self, vocabulary: list[str], english: frozenset[str] = frozenset()) -> None:
        self.vocabulary = frozenset(vocabulary)
        self.english = english
        self.limits = tuning().spelling
        shorthand_words = sorted(shorthand(), key=len, reverse=True)
        self._shorthand = re.compile(
            r"(?<![\w/])(?:" + "|".join(map(re.escape, shorthand_words)) + r")(?![\w/])", re.I
        )
        self._candidates: dict[str, list[str]] = {}
        for w in sorted(self.vocabulary):
            if len(w) >= self.limits.min_length:
                self._candidates.setdefault(w[0], []).append(w)
        self._closest = lru_cache(maxsize=4096)(self._closest_uncached)

    def _closest_uncached(self, word: str) -> str | None:
        # Typos rarely change the first letter; requiring it keeps "fusion" from becoming "diffusion".
        # A name heard rather than read may change it for one that sounds alike ("cumar" -> "kumar"),
        # tried only when no word with the same first letter is close.
        alike = next((g for g in self.limits.same_sound_initials if word[0] in g), word[0])
        for initials in (word[0], alike.replace(word[0], "")):
            match = self._closest_among(
                word, [c for i in initials for c in self._candidates.get(i, [])]
            )
            if match:
                return match
        return None

    def _closest_among(self, word: str, candidates: list[str]) -> str | None:
        # A typo adds, drops or swaps a letter or two; "sceptical" is not a misspelling of "septic".
        near = [c for c in candidates if abs(len(c) - len(word)) <= self.limits.max_length_change]
        match = difflib.get_close_matches(word, near, n=1, cutoff=self.limits.cutoff)
        return match[0] if match else None

    def correct(self, text: str) -> str:
        """``text`` with each unknown word of four letters or more replaced by its closest corpus word."""

        def fix(m: re.Match[str]) -> str:
            word = m.group(0)
            lower = word.lower()
            if (
                len(lower) < self.limits.min_length
                or lower in self.vocabulary
                or lower in STOPWORDS
                or lower in self.english
            ):
                return word
            return self._closest(lower) or word

        words = shorthand()
        text = self._shorthand.sub(lambda m: words[m.group(0).lower()], text)
        text = self._join_split_names(text)
        return re.sub(r"[A-Za-z][A-Za-z'-]*[A-Za-z]", fix, text)

    def _join_split_names(self, text: str) -> str:
        """``text`` with a corpus name said in two words joined ("amir delfan", "at luri"), when
        the name is no English word and not both halves are corpus words, so "any way" stays."""
        words = list(re.finditer(r"[A-Za-z]+", text))
        untouched = len(text)  # joins run right to left; a word already joined is not joined again
        for first, second in reversed(list(zip(words, words[1:], strict=False))):
            joined = (first.group(0) + second.group(0)).lower()
            if (
                second.end() <= untouched
                and text[first.end() : second.start()] == " "
                and joined in self.vocabulary
                and joined not in self.english
                and not {first.group(0).lower(), second.group(0).lower()} <= self.vocabulary
            ):
                text = text[: first.start()] + joined + text[second.end() :]
                untouched = first.start()
        return text
