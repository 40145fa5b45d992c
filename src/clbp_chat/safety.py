"""The safety gate: every message passes here before anything else looks at it.

Two layers over one rule file (``safety_signals.yaml``, reviewable by a clinician):
- readable patterns per warning sign, in the words patients use;
- a semantic layer that compares each sentence of the message with example phrasings of each sign
  (the embedding model the library already loads), for wordings no pattern foresaw.
A match is then taken back when its own context says it is not about the patient now: a negation
before it in the same clause ("no numbness"), another person as the subject ("my dad had cancer"),
the distant past for signs that must be recent ("a car crash 10 years ago"), or a general question
about the treatment ("can stem cells cause a fever?"). Figures of speech ("this pain is killing me")
are blanked out before anything is matched.

Tiers, highest first: emergency, crisis, urgent; then prompt injection, off-topic requests and
personal medical advice (see ``declines.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import chain
from pathlib import Path

import numpy as np
import yaml
from pydantic import ValidationError

from clbp_chat import declines
from clbp_chat.config import BUNDLED_MODEL
from clbp_chat.errors import ConfigError
from clbp_chat.learned import segments
from clbp_chat.safety_rules import RuleFile, first_problem
from clbp_chat.spelling import Speller, english_for
from clbp_chat.text import message_sentence_at, normalize, split_message, term_compiler

EMERGENCY = "emergency"
URGENT = "urgent"
CRISIS = "crisis"
PERSONAL_ADVICE = declines.PERSONAL_ADVICE
OUT_OF_SCOPE = declines.OUT_OF_SCOPE
PROMPT_INJECTION = declines.PROMPT_INJECTION
TIER_ORDER = (EMERGENCY, CRISIS, URGENT)
RULES_FILE = Path(__file__).with_name("safety_signals.yaml")

Encoder = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Signal:
    """One warning sign: its tier, what the reply names, and how it is recognised."""

    name: str
    tier: str
    label: str
    why: str
    patterns: tuple[re.Pattern[str], ...] = field(repr=False)
    examples: tuple[str, ...] = field(repr=False)
    past_counts: bool = False
    needs: re.Pattern[str] | None = field(default=None, repr=False)
    unless: re.Pattern[str] | None = field(default=None, repr=False)
    plan: bool = False
    # Groups of patterns that all occur in one sentence, in any order: a concept net ("a word for
    # wee" with "a word for losing control") that reaches wordings no single pattern foresaw.
    together: tuple[tuple[re.Pattern[str], ...], ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class SafetyVerdict:
    """What the gate decided; ``category`` is None when the message may go on to the library."""

    category: str | None
    signals: tuple[Signal, ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def signal(self) -> str | None:
        """What was recognised, for the answer's ``safety_signal`` (audit without the message)."""
        names = [s.label for s in self.signals] or list(self.reasons)
        return "; ".join(dict.fromkeys(names)) or None

    @property
    def also_crisis(self) -> bool:
        return self.category != CRISIS and any(s.tier == CRISIS for s in self.signals)

    @property
    def has_plan(self) -> bool:
        return any(s.plan for s in self.signals)


@dataclass
class Rules:
    """The parsed rule file."""

    signals: list[Signal]
    negators: frozenset[str]
    negation_window: int
    double_negative: re.Pattern[str] | None
    pseudo_negations: re.Pattern[str]
    backward_negation: re.Pattern[str]
    resolved: re.Pattern[str]
    together_breaks: re.Pattern[str]
    clause_breaks: re.Pattern[str]
    first_person: re.Pattern[str]
    first_person_subject: re.Pattern[str]
    other_person: re.Pattern[str]
    other_person_after: re.Pattern[str]
    past: re.Pattern[str]
    general_question: re.Pattern[str]
    general_subject: re.Pattern[str]
    hypothetical: re.Pattern[str]
    figures: tuple[re.Pattern[str], ...]
    disclaims_crisis: re.Pattern[str]
    mild_after_effects: re.Pattern[str]
    threshold: float
    margin: float
    min_words: int
    near_misses: tuple[str, ...]
    vocabulary: frozenset[str]
    learned: dict[str, Signal] = field(default_factory=dict)


def load_rules(path: Path = RULES_FILE) -> Rules:
    """Read, validate and compile the rule file; a broken file is one line (``ConfigError``) at
    start-up, naming the key or pattern, never a sign silently switched off."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        RuleFile.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path.name} is invalid: {first_problem(exc)}") from None
    try:
        return _compiled(data)
    except re.error as exc:
        raise ConfigError(f"{path.name} is invalid: bad pattern {exc.pattern!r}: {exc}") from None


def _signal(name: str, spec: dict, compile_: Callable[[str], re.Pattern[str]]) -> Signal:
    """One warning sign of the rule file, its patterns compiled."""
    return Signal(
        name=name,
        tier=spec["tier"],
        label=spec["label"],
        why=spec.get("why", ""),
        patterns=tuple(compile_(p) for p in spec["patterns"]),
        examples=tuple(spec.get("examples", [])),
        past_counts=bool(spec.get("past_counts", False)),
        needs=compile_(spec["needs"]) if spec.get("needs") else None,
        unless=compile_(spec["unless"]) if spec.get("unless") else None,
        plan=bool(spec.get("plan", False)),
        together=tuple(tuple(compile_(p) for p in group) for group in spec.get("together", [])),
    )


def _compiled(data: dict) -> Rules:
    compile_ = term_compiler(data.get("terms", {}))
    signals = [_signal(name, spec, compile_) for name, spec in data["signals"].items()]
    ctx, sem = data["context"], data["semantic"]
    return Rules(
        signals=signals,
        negators=frozenset(str(ctx["negators"]).split()),
        negation_window=int(ctx["negation_window"]),
        double_negative=re.compile(ctx["double_negative"]) if ctx.get("double_negative") else None,
        pseudo_negations=re.compile(ctx["pseudo_negations"]),
        backward_negation=re.compile(ctx["backward_negation"]),
        resolved=re.compile(ctx["resolved"]),
        together_breaks=re.compile(ctx["together_breaks"]),
        clause_breaks=re.compile(ctx["clause_breaks"]),
        first_person=re.compile(ctx["first_person"]),
        first_person_subject=re.compile(ctx["first_person_subject"]),
        other_person=re.compile(ctx["other_person"]),
        other_person_after=re.compile(ctx["other_person_after"]),
        past=re.compile(ctx["past"]),
        general_question=re.compile(ctx["general_question"]),
        general_subject=re.compile(ctx["general_subject"]),
        hypothetical=re.compile(ctx["hypothetical"]),
        figures=tuple(re.compile(p) for p in ctx["figures_of_speech"]),
        disclaims_crisis=re.compile(ctx["disclaims_crisis"]),
        mild_after_effects=re.compile(ctx["mild_after_effects"]),
        threshold=float(sem["threshold"]),
        margin=float(sem["margin"]),
        min_words=int(sem["min_words"]),
        near_misses=tuple(sem["near_misses"]),
        vocabulary=_vocabulary(data, signals),
        learned={
            tier: Signal(
                name=f"learned_{tier}",
                tier=tier,
                label=spec["label"],
                why=spec.get("why", ""),
                patterns=(),
                examples=(),
            )
            for tier, spec in data.get("learned", {}).items()
        },
    )


def _vocabulary(data: dict, signals: list[Signal]) -> frozenset[str]:
    """Every word a misspelling may be corrected to: the rules' own words and the listed ones."""
    texts = [str(data.get("spelling_words", ""))]
    texts += [e for s in signals for e in s.examples] + list(data["semantic"]["near_misses"])
    patterns = [p for s in signals for p in (*s.patterns, *(q for g in s.together for q in g))]
    texts += [re.sub(r"\\[a-zA-Z]", " ", p.pattern) for p in patterns]
    return frozenset(w for t in texts for w in re.findall(r"[a-z]{4,}", t.lower()))


@dataclass
class SafetyGate:
    """Checks messages against the rules; give it an encoder to switch the semantic layer on."""

    rules: Rules = field(default_factory=load_rules)
    encoder: Encoder | None = None
    english: frozenset[str] | None = None
    # The learned layer (``learned.Classifiers``): a tier read from the whole message's meaning.
    learned: object | None = None

    def __post_init__(self) -> None:
        declines.rules()  # a broken declines.yaml fails here, at start-up, not at first use

    @property
    def _english(self) -> frozenset[str]:
        """The engine's English words, else the bundled model's (a file read, no model load)."""
        return self.english if self.english is not None else english_for(BUNDLED_MODEL)

    @cached_property
    def english_words(self) -> frozenset[str]:
        """Real English words (the model's vocabulary) and every word the rules know; built once,
        read for every message by the readability check."""
        return self._english | self.rules.vocabulary

    @cached_property
    def _speller(self) -> Speller:
        """Real English words are never 'corrected' (default: the bundled model's vocabulary)."""
        return Speller(sorted(self.rules.vocabulary), self._english)

    @cached_property
    def _bank(self) -> tuple[np.ndarray, list[Signal | None]]:
        """Example vectors, each labelled with its signal (None for a near miss)."""
        texts: list[str] = []
        labels: list[Signal | None] = []
        for signal in self.rules.signals:
            texts += [normalize(e) for e in signal.examples]
            labels += [signal] * len(signal.examples)
        texts += [normalize(e) for e in self.rules.near_misses]
        labels += [None] * len(self.rules.near_misses)
        assert self.encoder is not None
        return self.encoder(texts), labels

    def prepared(self, message: str) -> str:
        """The message as the rules read it: lower case, typos fixed, figures of speech blanked."""
        return self._blank_figures(self._speller.correct(normalize(message)))

    def check(self, message: str, earlier: Sequence[str] = ()) -> SafetyVerdict:
        """Classify one message: emergency, crisis or urgent first, then the request checks.
        ``earlier`` are the patient's own earlier turns: a sign that needs a setting ("a fever" needs
        a recent injection) finds it there too ("i had the injection on monday" ... "now im
        burning up")."""
        text = self.prepared(message)
        sentences = split_message(text)
        prime = getattr(self.encoder, "prime", None)
        if prime is not None:  # every text the layers may embed, in one model call
            learned = segments(text) if self.learned is not None else []
            prime([*self._long_enough(sentences), *learned])
        clauses = self._clauses(text)  # once per message, read by every concept pair
        found = {
            s.name: s for s in self.rules.signals if self._pattern_match(s, text, clauses, earlier)
        }
        if self.encoder is not None:
            for signal in self._semantic_matches(sentences, text):
                found.setdefault(signal.name, signal)
        request = declines.classify(text)
        # The learned layer reads messages in which no rule saw anything: a precise rule (a
        # warning sign, an injection, an off-topic task, a denial such as "I'm not suicidal")
        # outranks its guess.
        if self._learned_may_read(found, request):
            learned = self.learned.tier(text)
            # Beside a rule's sign, only a learned emergency may add to it (its reply covers the
            # others); a learned crisis beside a red flag is the pain talking, not a plan.
            if learned and found and learned[0] != EMERGENCY:
                learned = None
            if learned and learned[0] == CRISIS and self._disclaimed(text):
                learned = None
            # "a bit sore for a day after the jab": the expected after-effect, in words the
            # learned emergency reads as an infected site; the rules still catch heat, pus, fever.
            if learned and learned[0] == EMERGENCY and self.rules.mild_after_effects.search(text):
                learned = None
            if learned and learned[0] in self.rules.learned:
                signal = self.rules.learned[learned[0]]
                found.setdefault(signal.name, signal)
        signals = self._resolve(found)
        for tier in TIER_ORDER:
            if any(s.tier == tier for s in signals):
                ordered = sorted(signals, key=lambda s: TIER_ORDER.index(s.tier))
                return SafetyVerdict(tier, tuple(ordered))
        if request:
            return SafetyVerdict(request[0], reasons=(request[1],))
        return SafetyVerdict(None)

    def _learned_may_read(self, found: dict[str, Signal], request: tuple[str, str] | None) -> bool:
        if self.learned is None or (request and request[0] != PERSONAL_ADVICE):
            return False
        return not any(signal.tier == EMERGENCY for signal in found.values())

    def _disclaimed(self, text: str) -> bool:
        """The writer says the low mood is not a dark one ("not in a bad way, just fed up", "I'm
        not suicidal"): the learned layer reads tiredness, the writer has told us what it is."""
        return self._denied(text, CRISIS) or bool(self.rules.disclaims_crisis.search(text))

    def _denied(self, text: str, tier: str) -> bool:
        """The message names a sign of this tier only to deny it ("I'm not suicidal")."""
        return any(
            not self._counts(text, m.start(), signal)
            for signal in self.rules.signals
            if signal.tier == tier
            for pattern in signal.patterns
            for m in pattern.finditer(text)
        )

    def _blank_figures(self, text: str) -> str:
        for figure in self.rules.figures:
            text = figure.sub(lambda m: " " * len(m.group(0)), text)
        return text

    @staticmethod
    def _resolve(found: dict[str, Signal]) -> list[Signal]:
        """A fever after a recent injection is the emergency, not also the urgent fever."""
        if "injection_infection" in found:
            found.pop("fever", None)
        return list(found.values())

    def _clauses(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of each clause, as the concept pairs (``together``) read them."""
        spans, start = [], 0
        for brk in self.rules.together_breaks.finditer(text):
            spans.append((start, brk.start()))
            start = brk.end()
        return [*spans, (start, len(text))]

    def _pattern_match(
        self, signal: Signal, text: str, clauses: list[tuple[int, int]], earlier: Sequence[str] = ()
    ) -> bool:
        if signal.unless and self._live_match(signal.unless, text, signal):
            return False
        # The earlier turns are prepared and read only when the message itself lacks the setting.
        said = chain([text], map(self.prepared, earlier))
        if signal.needs and not any(self._live_match(signal.needs, s, signal) for s in said):
            return False
        if any(self._live_match(p, text, signal) for p in signal.patterns):
            return True
        return any(self._together(group, text, clauses, signal) for group in signal.together)

    def _together(
        self,
        group: tuple[re.Pattern[str], ...],
        text: str,
        clauses: list[tuple[int, int]],
        signal: Signal,
    ) -> bool:
        """Every pattern of the group in one clause, none of them taken back by its context."""
        for start, end in clauses:
            found = [p.search(text, start, end) for p in group]
            if all(found) and all(self._counts(text, m.start(), signal) for m in found):
                return True
        return False

    def _live_match(self, pattern: re.Pattern[str], text: str, signal: Signal) -> bool:
        """A match that its own context does not take back."""
        return any(self._counts(text, m.start(), signal) for m in pattern.finditer(text))

    def _counts(self, text: str, start: int, signal: Signal) -> bool:
        sentence_start, sentence = message_sentence_at(text, start)
        before = text[sentence_start:start]
        after = text[start : sentence_start + len(sentence) + 12]
        if self._negated(before) or self.rules.backward_negation.search(after):
            return False
        # A sign whose history counts (cancer, a transplant) is not taken back by "all clear now",
        # only by being someone else's: "Darnell had prostate cancer, he's clear now".
        taken_back = self.rules.other_person_after if signal.past_counts else self.rules.resolved
        if signal.tier != CRISIS and taken_back.search(after):
            return False
        # "my family would be better off without me" is about the patient, whoever else it names.
        if signal.tier != CRISIS and self._other_person(before):
            return False
        if not signal.past_counts and self.rules.past.search(sentence):
            return False
        if signal.tier != CRISIS and self.rules.hypothetical.search(sentence):
            return False
        return not (signal.tier != CRISIS and self._general_question(sentence))

    def _negated(self, span: str, *, whole: bool = False) -> bool:
        """A negator takes the sign back: among the last ``negation_window`` words of the clause
        before a pattern's match, or anywhere in a sentence the semantic layer matched as a whole
        (``whole``). Pseudo-negations ("without warning") and the "without" of a double negative
        negate nothing."""
        span = self.rules.pseudo_negations.sub(" ", span)
        if not whole:
            span = self.rules.clause_breaks.split(span)[-1]
        words = re.findall(r"[a-z]+", span)
        if not whole:
            words = words[-self.rules.negation_window :]
        if self.rules.double_negative and self.rules.double_negative.search(span):
            # "I can't stand up without my legs giving way": the legs do give way.
            words = [w for w in words if w != "without"]
        return any(w in self.rules.negators for w in words)

    def _other_person(self, before: str) -> bool:
        """The nearest subject before the match is someone else ("my dad had ...")."""
        other = [m.end() for m in self.rules.other_person.finditer(before)]
        if not other:
            return False
        mine = [m.start() for m in self.rules.first_person.finditer(before)]
        # "my dad ... my back": first-person words after the other person are only possessives.
        after = before[max(other) :]
        return (
            not mine or max(other) > max(mine) or not self.rules.first_person_subject.search(after)
        )

    def _general_question(self, sentence: str) -> bool:
        """A question about the treatment or the studies, not about the patient's own body."""
        return bool(
            self.rules.general_question.search(sentence)
            and self.rules.general_subject.search(sentence)
            and not self.rules.first_person.search(sentence)
        )

    def _long_enough(self, sentences: list[str]) -> list[str]:
        """The sentences the semantic layer compares by meaning."""
        return [s for s in sentences if len(s.split()) >= self.rules.min_words]

    def _semantic_matches(self, sentences: list[str], text: str) -> list[Signal]:
        """Signals whose examples a sentence is closer to than any near miss, context permitting."""
        sentences = self._long_enough(sentences)
        if not sentences:
            return []
        vectors, labels = self._bank
        sims = self.encoder(sentences) @ vectors.T
        miss_cols = [i for i, lab in enumerate(labels) if lab is None]
        out: list[Signal] = []
        for row, sentence in enumerate(sentences):
            near_miss = float(sims[row, miss_cols].max()) if miss_cols else 0.0
            best = int(np.argmax(sims[row]))
            signal, score = labels[best], float(sims[row, best])
            if signal is None or score < self.rules.threshold:
                continue
            if score < near_miss + self.rules.margin:
                continue
            if signal.needs and not self._live_match(signal.needs, text, signal):
                continue
            start = text.find(sentence)
            if self._counts_sentence(sentence, signal, text, start):
                out.append(signal)
        return out

    def _counts_sentence(self, sentence: str, signal: Signal, text: str, start: int) -> bool:
        if signal.tier != CRISIS and self._negated(sentence, whole=True):
            return False
        if self._other_person(sentence) and not self.rules.first_person.search(sentence):
            return False
        return self._counts(text, max(start, 0), signal)


@lru_cache(maxsize=1)
def default_gate() -> SafetyGate:
    """The pattern-only gate (no model loaded), for callers without an engine."""
    return SafetyGate()


def check(message: str) -> SafetyVerdict:
    """Classify a message with the pattern layer alone."""
    return default_gate().check(message)
