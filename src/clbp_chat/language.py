"""Can the library read this message? A message with no words, or written in another language,
gets a short reply (with the emergency and crisis numbers) instead of nearby study sentences.

The embedding model and every rule read English only, so this runs right after the safety gate and
before anything is searched. Other languages are told apart from English with typos or dialect by
their own everyday words (``languages.yaml``), never by unknown words alone.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml

from clbp_chat.text import normalize
from clbp_chat.tuning import tuning

Reading = Literal["ok", "no_words", "not_english"]
LANGUAGES_FILE = Path(__file__).with_name("languages.yaml")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
# Five consonants in a row in an unknown word: a keyboard mash ("asdfghjkl"), not a typo.
_MASH = re.compile(r"[bcdfghjklmnpqrstvwxz]{5,}")


@lru_cache(maxsize=1)
def foreign_words() -> frozenset[str]:
    data = yaml.safe_load(LANGUAGES_FILE.read_text(encoding="utf-8"))
    return frozenset(w for words in data.values() for w in str(words).split())


def read_language(message: str, english: frozenset[str]) -> Reading:
    """'ok', 'no_words' (emoji, punctuation, a keyboard mash) or 'not_english'."""
    text = normalize(message)
    words = _WORD.findall(text)
    if not words:
        return "no_words"
    letters = [ch for w in words for ch in w]
    latin = sum(unicodedata.name(ch, "").startswith("LATIN") for ch in letters)
    if latin < len(letters) / 2:
        return "not_english"
    known = [w for w in words if w in english or len(w) < 3]
    if len(words) == 1 and not known and _MASH.search(words[0]):
        return "no_words"
    foreign = [w for w in words if w in foreign_words() and w not in english]
    if foreign and len(known) < tuning().language.english_share * len(words):
        return "not_english"
    return "ok"
