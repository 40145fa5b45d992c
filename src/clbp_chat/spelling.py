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
# Everyday words that say how a patient asks, not what about: an unknown word from this list does
# not make a question "about something the corpus does not cover".
GENERIC_WORDS = frozenset(
    [
        "able",
        "actually",
        "again",
        "ago",
        "ahead",
        "almost",
        "alone",
        "already",
        "altogether",
        "always",
        "anyone",
        "anything",
        "anyway",
        "around",
        "away",
        "awful",
        "bad",
        "basically",
        "beat",
        "believe",
        "best",
        "better",
        "big",
        "bit",
        "came",
        "come",
        "comes",
        "coming",
        "could",
        "crazy",
        "data",
        "day",
        "definitely",
        "describe",
        "detail",
        "details",
        "different",
        "doing",
        "done",
        "easy",
        "else",
        "enough",
        "even",
        "ever",
        "every",
        "everyone",
        "everything",
        "exactly",
        "explain",
        "fact",
        "fair",
        "fall",
        "fell",
        "felt",
        "figure",
        "find",
        "findings",
        "fine",
        "first",
        "found",
        "give",
        "given",
        "gives",
        "giving",
        "goes",
        "going",
        "gone",
        "good",
        "great",
        "guess",
        "guy",
        "guys",
        "happen",
        "happened",
        "happens",
        "hard",
        "heard",
        "hear",
        "help",
        "helped",
        "helpful",
        "helps",
        "high",
        "honest",
        "honestly",
        "idea",
        "important",
        "interested",
        "just",
        "keep",
        "kind",
        "know",
        "knew",
        "last",
        "later",
        "learn",
        "least",
        "less",
        "let",
        "like",
        "likely",
        "little",
        "long",
        "look",
        "looked",
        "looking",
        "lot",
        "lots",
        "low",
        "made",
        "make",
        "maybe",
        "mean",
        "means",
        "meant",
        "meds",
        "mention",
        "mentioned",
        "might",
        "mind",
        "need",
        "needed",
        "needs",
        "nice",
        "okay",
        "overall",
        "part",
        "pretty",
        "probably",
        "proof",
        "prove",
        "proved",
        "quite",
        "rather",
        "read",
        "real",
        "really",
        "reason",
        "reliable",
        "right",
        "said",
        "saw",
        "say",
        "says",
        "see",
        "seem",
        "seems",
        "seen",
        "show",
        "showed",
        "shown",
        "shows",
        "simple",
        "simply",
        "since",
        "something",
        "sort",
        "sound",
        "sounds",
        "start",
        "still",
        "stuff",
        "such",
        "summarize",
        "summary",
        "suppose",
        "sure",
        "take",
        "taken",
        "tell",
        "thing",
        "things",
        "think",
        "though",
        "thought",
        "together",
        "told",
        "took",
        "total",
        "true",
        "trust",
        "trustworthy",
        "truly",
        "try",
        "trying",
        "understand",
        "used",
        "useful",
        "usually",
        "want",
        "wanted",
        "way",
        "ways",
        "well",
        "went",
        "whole",
        "wonder",
        "wondering",
        "work",
        "worked",
        "working",
        "works",
        "worth",
        "yeah",
        "yes",
    ]
)
CUTOFF = 0.8


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
        candidates = self._candidates.get(word[0], [])
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

    def uncovered(self, text: str) -> list[str]:
        """Topic words the corpus never uses: unknown words that are not everyday English."""
        return [w for w in self.unknown(text) if w not in GENERIC_WORDS]

    def unknown(self, text: str) -> list[str]:
        """Content words of ``text`` that neither occur in the corpus nor correct to a corpus word."""
        return [
            w
            for w in re.findall(r"[a-z][a-z'-]*[a-z]", text.lower())
            if len(w) >= MIN_LENGTH
            and w not in STOPWORDS
            and w not in self.vocabulary
            and w.removesuffix("s") not in self.vocabulary
            and self._closest(w) is None
        ]
