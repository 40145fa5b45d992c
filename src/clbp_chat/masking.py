"""Masking what identifies a patient in a logged question: e-mails (written or spelled out), NHS
numbers, phone numbers, dates, street addresses, postcodes and ZIP codes, and names.

Names are masked where a message marks them as names (after a title, after "my name is", in a
sign-off), never by guessing at capitalised words: "the Pettine trial" and "Kumar study" stay
readable, and so does "Dr Kumar" (``keep``: the study authors' names are corpus words).
The word lists are in ``masking.yaml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_AT = r"\s*[\[(]?\s*\bat\b\s*[\])]?\s*"
_DOT = r"\s*[\[(]?\s*(?:\bdot\b|\.)\s*[\])]?\s*"
# The last part of a spelled-out address: common endings or a country code, so that "email me at
# john dot smith at gmail dot com" is masked whole, not from "me at john dot smith".
_TLD = r"(?:com|net|org|edu|gov|info|biz|mail|[a-z]{2})"
# "john dot smith at gmail dot com", "jane (at) example (dot) co (dot) uk", "jo_b at nhs.net"
_SPOKEN_EMAIL = re.compile(
    rf"\b[\w+-]+(?:(?:{_DOT}|\s*\bunderscore\b\s*)[\w+-]+)*{_AT}[\w-]+(?:{_DOT}[\w-]+)*"
    rf"{_DOT}{_TLD}\b",
    re.I,
)
# Ten digits as 3-3-4, spaced, dashed or run together; an NHS number only when its check digit is
# right (``nhs_number``), otherwise left to the phone rule.
_TEN_DIGITS = re.compile(r"(?<![\w.+])\d{3}[ -]?\d{3}[ -]?\d{4}(?![\w.])")
# Seven or more digits, with spaces, dots, dashes or brackets between them ("555 1234").
_PHONE = re.compile(r"(?<![\w.])\+?\(?\d[\d\s().-]{5,}\d(?![\w.])")
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = re.compile(
    r"\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\s+(?:19|20)\d\d\b"
    rf"|\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:19|20)\d\d\b",
    re.I,
)
# UK postcodes, whole ("SW1A 1AA", "m1 1ae", "LS61AN").
_POSTCODE = re.compile(r"\b(?:[a-z]{1,2}\d[a-z\d]?|gir)\s*\d[a-z]{2}\b", re.I)
# US ZIP codes where something says so: after a state's two capitals ("CA 90210") or "zip".
_ZIP = re.compile(r"(\b[A-Z]{2},?|\b(?i:zip\s*(?:code)?(?:\s+is)?:?))(\s+)\d{5}(?:-\d{4})?\b")
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_POSSESSIVE = re.compile(r"['’]s$", re.I)
_SPACE = re.compile(r"[ \t]+")
_ENDS_MESSAGE = re.compile(r"[\s.!]*$")


def mask(text: str, keep: frozenset[str] = frozenset()) -> str:
    """``text`` with identifiers replaced by placeholders ([email], [name], [address]...).

    ``keep``: lower-case words that are never masked as names (the corpus's study authors)."""
    rules = _rules()
    text = _SPOKEN_EMAIL.sub("[email]", _EMAIL.sub("[email]", text))
    text = _TEN_DIGITS.sub(lambda m: "[nhs number]" if nhs_number(m.group(0)) else m.group(0), text)
    text = _DATE.sub("[date]", text)
    text = rules.unit.sub("[address]", rules.address.sub("[address]", text))
    text = _ZIP.sub(r"\1\2[postcode]", _POSTCODE.sub("[postcode]", text))
    text = _PHONE.sub(lambda m: "[phone]" if _digits(m.group(0)) >= 7 else m.group(0), text)
    return _mask_names(text, rules, keep)


def nhs_number(text: str) -> bool:
    """Whether ten digits pass the NHS number's modulus-11 check."""
    digits = [int(ch) for ch in text if ch.isdigit()]
    if len(digits) != 10:
        return False
    check = 11 - sum(d * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True)) % 11
    return check != 10 and check % 11 == digits[9]


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


@dataclass(frozen=True)
class _Rules:
    title: re.Pattern[str]
    capitalised_titles: frozenset[str]
    intro: re.Pattern[str]
    sign_off: re.Pattern[str]
    not_names: frozenset[str]
    address: re.Pattern[str]
    unit: re.Pattern[str]


def _alternatives(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


@lru_cache(maxsize=1)
def _rules() -> _Rules:
    data = yaml.safe_load(Path(__file__).with_name("masking.yaml").read_text(encoding="utf-8"))
    titles = data["titles"]["any_case"] + data["titles"]["capitalised"]
    not_names = frozenset(str(w) for w in data["not_names"])
    words = rf"(?:(?!(?:{_alternatives(sorted(not_names))})\b)[^\W\d_][\w'’-]*\s+)"
    return _Rules(
        title=re.compile(rf"\b({_alternatives(titles)})\.?[ \t]+", re.I),
        capitalised_titles=frozenset(data["titles"]["capitalised"]),
        intro=re.compile(rf"\b(?:{_alternatives(data['name_intros'])})\s*[:,-]?[ \t]*", re.I),
        sign_off=re.compile(
            rf"(?:^|[.!?\n][ \t]*)(?:{_alternatives(data['sign_offs'])})[,!.]?\s+", re.I
        ),
        not_names=not_names,
        address=re.compile(
            rf"\b\d{{1,5}}[a-z]?,?\s+{words}{{1,3}}(?:{_alternatives(data['street_types'])})\b\.?",
            re.I,
        ),
        unit=re.compile(rf"\b(?:{_alternatives(data['unit_words'])})\s*#?\d+[a-z]?\b", re.I),
    )


def _mask_names(text: str, rules: _Rules, keep: frozenset[str]) -> str:
    spans: list[tuple[int, int]] = []
    for m in rules.title.finditer(text):
        capital = m.group(1).lower() in rules.capitalised_titles
        spans += _name_at(text, m.end(), rules, keep, capital_only=capital, intro=False)
    for m in rules.intro.finditer(text):
        spans += _name_at(text, m.end(), rules, keep, capital_only=False, intro=True)
    for m in rules.sign_off.finditer(text):
        found = _name_at(text, m.end(), rules, keep, capital_only=False, intro=True)
        if found and _ENDS_MESSAGE.fullmatch(text, found[0][1]):
            spans += found
    for start, end in sorted(set(spans), reverse=True):
        text = text[:start] + "[name]" + text[end:]
    return text


def _name_at(
    text: str, pos: int, rules: _Rules, keep: frozenset[str], *, capital_only: bool, intro: bool
) -> list[tuple[int, int]]:
    """The span of the name that starts at ``pos``, as a one-item list, or [] when the words there
    are no name: ordinary words, a lower-case word after a title that needs a capital, a study
    author. A capitalised name may have two words ("Mrs Anita Patel"); a lower-case one after a
    title only one ("dr smith said"), since its next word is as likely a verb."""
    words: list[re.Match[str]] = []
    while len(words) < 2:
        word = _WORD.match(text, pos)
        if word is None:
            break
        bare = _POSSESSIVE.sub("", word.group(0)).lower()
        upper = word.group(0)[0].isupper()
        if bare in rules.not_names or bare in keep or (capital_only and not upper):
            break
        if words and words[0].group(0)[0].isupper() != upper:
            break
        words.append(word)
        if not (upper or intro) or _POSSESSIVE.search(word.group(0)):
            break
        gap = _SPACE.match(text, word.end())
        if gap is None:
            break
        pos = gap.end()
    if not words:
        return []
    end = words[-1].end()
    possessive = _POSSESSIVE.search(words[-1].group(0))
    return [(words[0].start(), end - (len(possessive.group(0)) if possessive else 0))]
