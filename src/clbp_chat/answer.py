"""The one entry point every front end calls: ``answer(question, history) -> Answer``.

The pipeline is a row of named stages, each its own module, run in this order:

    triage:   validate -> safety gate -> readable?        (needs no index, store or log)
    library:  understand -> route -> retrieve -> select -> compose -> outcome

Triage comes first and may reply on its own (a warning sign, a declined request, a message that
cannot be read); only a message it lets through opens the index. This module wires the stages
and holds what they share (the index, the model, the gate); ``replies.py`` words each outcome.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from clbp_chat import replies, safety
from clbp_chat.compose import compose_answer
from clbp_chat.config import Settings, get_settings
from clbp_chat.errors import ClbpError, IndexMissing
from clbp_chat.evidence import (
    Selection,
    SentenceScorer,
    clinic_page_section,
    select_sentences,
    study_docs,
)
from clbp_chat.index import Index, live_build_name, open_index
from clbp_chat.language import read_language
from clbp_chat.learned import Classifiers, load_classifiers
from clbp_chat.messages import messages
from clbp_chat.privacy import log_question
from clbp_chat.records import Answer
from clbp_chat.retrieve import ScoredChunk, hybrid_search, question_match
from clbp_chat.spelling import english_for
from clbp_chat.text import name_form
from clbp_chat.understand import Query, read_message, vocabulary
from clbp_chat.validate import validate_history, validate_question


@dataclass
class Triage:
    """A message after the stages that need nothing but the message: cleaned, and its reply when
    the gate or the readability check gives one (``reply`` is None: the library answers)."""

    question: str
    history: list[dict[str, str]]
    verdict: safety.SafetyVerdict
    reply: Answer | None
    started: float


class Engine:
    """Holds the loaded index, model and gate; build one per process (``get_engine``) and reuse it."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._checked = time.monotonic()
        self._reloading = threading.Lock()
        self._scorers: dict[str, SentenceScorer] = {}
        self.log_error: str | None = None

    # The pipeline, in the order it runs.

    def answer(self, question: str, history: Sequence[dict] = ()) -> Answer:
        """The whole pipeline: triage first, then the library when triage has no reply."""
        triaged = self.triage(question, history)
        return triaged.reply or self.from_library(triaged)

    def triage(self, question: str, history: Sequence[dict] = ()) -> Triage:
        """Validate, then the safety gate and the readability check: everything that needs no
        index, store or log. A server runs this on its event loop, so a warning sign is answered
        even while every worker thread waits on a stalled store."""
        start = time.perf_counter()
        cleaned = validate_question(question, self.settings)
        verdict = self._check(cleaned, _patient_turns(history, self.settings.max_question_chars))
        # A warning sign is answered whatever the history holds (too long, malformed).
        warning = verdict.category in safety.TIER_ORDER
        turns = [] if warning else validate_history(list(history), self.settings)
        triaged = Triage(cleaned, turns, verdict, self._early_reply(cleaned, verdict), start)
        if triaged.reply is not None:
            self._finish(triaged, triaged.reply)
        return triaged

    def _check(self, question: str, earlier: Sequence[str] = ()) -> safety.SafetyVerdict:
        """The gate's verdict; a fault in its model layer leaves the patterns to decide."""
        try:
            return self.gate.check(question, earlier)
        except Exception as exc:  # noqa: BLE001 - the reply must come whatever breaks
            print(
                f"clbp-chat: safety gate fell back to patterns ({type(exc).__name__})",
                file=sys.stderr,
            )
            return safety.default_gate().check(question, earlier)

    def _early_reply(self, question: str, verdict: safety.SafetyVerdict) -> Answer | None:
        """The gate's and the readability check's reply, when the message gets one."""
        if verdict.category in (safety.EMERGENCY, safety.URGENT, safety.CRISIS):
            return replies.warning_sign(self.settings, question, verdict)
        reading = read_language(question, self.gate.english_words)
        if reading != "ok":
            return replies.unreadable(self.settings, question, reading)
        if verdict.category in (safety.PROMPT_INJECTION, safety.OUT_OF_SCOPE):
            return replies.declined(self.settings, question, verdict)
        return None

    def from_library(self, triaged: Triage) -> Answer:
        """Understand, route, retrieve, select and compose for a message triage let through."""
        result = self._library(triaged.question, triaged.history, triaged.verdict)
        return self._finish(triaged, result)

    def _library(
        self, question: str, history: list[dict[str, str]], verdict: safety.SafetyVerdict
    ) -> Answer:
        """The library's stages, in the order they run."""
        index = self.live_index()
        query = self.understand(question, history, index)
        asked = question_match(index, query.question_vector)  # routing, retrieval, selection
        route, verdict = self._route(index, query, asked, verdict)
        turned_away = self._turn_away(query, route, verdict)
        if turned_away is not None:
            return turned_away
        verdict = _with_advice(route, verdict)
        selection, hits = self.select(index, query, asked)
        composed = compose_answer(index, selection.rows, query.focus, texts=messages(self.settings))
        retrieved = list(dict.fromkeys(h.chunk.doc_id for h in hits))
        return replies.from_evidence(self.settings, query, composed, retrieved, verdict)

    def understand(self, question: str, history: list[dict[str, str]], index: Index) -> Query:
        """The :class:`Query`, made once: read, embedded in one model call, its aspect named."""
        described = self._described_study(question)
        query = read_message(question, history, index, described, texts=messages(self.settings))
        # Two vectors in one model call: the message with its corpus terms for retrieval, and the
        # message as written for matching the questions sections list. Appended terms pulled
        # "Which study was the largest?" off its own listed question (0.72 instead of 1.0); matched
        # as written, blind 334 -> 337 of 399 with no new false alarm.
        vectors = self.encoder(
            [query.search_text, query.text, *(p.search_text for p in query.parts)]
        )
        query.vector, query.question_vector = vectors[0], vectors[1]
        for part, vector in zip(query.parts, vectors[2:], strict=True):
            part.vector = vector
        if self.classifiers is not None:
            query.aspect = self.classifiers.aspect(question)
        return query

    def _described_study(self, question: str) -> str | None:
        """The doc id of the study the message describes, by the learned study head."""
        if self.classifiers is None or not vocabulary().study_reference.search(question):
            return None
        label = self.classifiers.study(question)
        return study_docs().get(label) if label else None

    def _route(
        self, index: Index, query: Query, asked: dict[int, float], verdict: safety.SafetyVerdict
    ) -> tuple[str | None, safety.SafetyVerdict]:
        """What kind of message it is (the learned router, when confident), with its verdict. A
        question a clinic page lists is that page's, whatever a topic, the router or an advice
        rule says (warning signs were answered in triage)."""
        if clinic_page_section(index, asked) is not None:
            query.uncovered = []
            return None, safety.SafetyVerdict(None)
        if self.classifiers is None or query.standalone:
            return None, verdict
        if query.asks_term and _names_a_glossary_term(index, query.question):
            # "what is cartilage?" when the glossary defines it: the library's, whatever the
            # router learned of words it never saw defined (a clinic adds entries).
            return None, verdict
        route = self.classifiers.route(query.question)
        if route == "not_covered" and verdict.category == safety.PERSONAL_ADVICE:
            # An advice rule is precise ("should he get it?"); the router's guess is not: the
            # patient hears it is their doctor's call, with what the studies found.
            route = None
        return route, verdict

    def _turn_away(
        self, query: Query, route: str | None, verdict: safety.SafetyVerdict
    ) -> Answer | None:
        """The reply for small talk and for what the library does not cover; None to answer."""
        if route == "small_talk":
            return replies.small_talk(self.settings, query.question)
        if query.uncovered:
            return replies.not_covered(self.settings, query, verdict)
        if route == "not_covered":
            return replies.routed_away(self.settings, query)
        return None

    def select(
        self, index: Index, query: Query, asked: dict[int, float]
    ) -> tuple[Selection, list[ScoredChunk]]:
        """Retrieve, then select: the sentences that answer ``query`` (with the best relevance,
        even below the evidence bar) and the passages they were chosen from."""
        hits = self._retrieve(index, query, asked)
        selection = select_sentences(
            index,
            self._scorer(index),
            query,
            hits,
            min_evidence=self.settings.min_evidence,
            max_sentences=self.settings.max_sentences,
            asked=asked,
        )
        return selection, hits

    def _retrieve(self, index: Index, query: Query, asked: dict[int, float]) -> list[ScoredChunk]:
        """The passages to select from; a storage fault is the one-line index error."""
        try:
            return hybrid_search(
                index,
                query.search_text,
                query.vector,
                query.focus,
                self.settings.retrieve_k,
                self.settings.rrf_k,
                asked=asked,
            )
        except Exception as exc:  # noqa: BLE001 - a storage fault must not reach a patient as a traceback
            raise IndexMissing(_damaged(exc)) from None

    def _finish(self, triaged: Triage, result: Answer) -> Answer:
        result.latency_ms = (time.perf_counter() - triaged.started) * 1000
        self.log_error = log_question(self.settings, result)
        return result

    # What the stages share, each loaded once.

    @cached_property
    def gate(self) -> safety.SafetyGate:
        """The safety gate on the engine's own model; patterns alone when the model cannot load,
        so an emergency never waits on a broken model setting."""
        try:
            english = english_for(self.settings.embedding_model)
            _ = self.embeddings  # load now: a model that cannot load switches to patterns here
        except Exception as exc:  # noqa: BLE001 - any model fault: keep the pattern layer
            print(
                f"clbp-chat: safety gate on patterns alone ({type(exc).__name__})", file=sys.stderr
            )
            return safety.SafetyGate()
        return safety.SafetyGate(encoder=self.encoder, english=english, learned=self.classifiers)

    @cached_property
    def classifiers(self) -> Classifiers | None:
        """The classifiers learned from the example banks (cached beside the model's export)."""
        try:
            return load_classifiers(self.settings, self.encoder)
        except Exception as exc:  # noqa: BLE001 - without them the rules still answer
            print(f"clbp-chat: learned layers off ({type(exc).__name__}: {exc})", file=sys.stderr)
            return None

    @property
    def embeddings(self):
        from clbp_chat.embeddings import embeddings_for

        return embeddings_for(self.settings)

    @cached_property
    def encoder(self):
        """The model's encode with memory: each message costs one batched model call."""
        from clbp_chat.embeddings import CachedEncoder

        return CachedEncoder(self.embeddings.encode)

    @cached_property
    def index(self) -> Index:
        return open_index(self.settings)

    def live_index(self) -> Index:
        """The build to answer this request with. A newer build (a finished `clbp-chat ingest`)
        is loaded in the background and swapped in whole, so no request sees half of each."""
        index = self.index
        every = self.settings.reload_seconds
        now = time.monotonic()
        if every and now - self._checked >= every and not self._reloading.locked():
            self._checked = now
            try:
                name = live_build_name(self.settings)
            except Exception:  # noqa: BLE001 - keep serving the loaded build; /healthz reports
                name = None
            if name and name != index.name:
                threading.Thread(target=self._swap_to, args=(name,), daemon=True).start()
        return index

    def _swap_to(self, name: str) -> None:
        with self._reloading:
            if self.index.name == name:
                return
            try:
                fresh = open_index(self.settings)
            except ClbpError:
                return  # a damaged new build never replaces a working one
            self._scorer(fresh)  # build its IDF before it serves anyone
            self.__dict__["index"] = fresh

    def _scorer(self, index: Index) -> SentenceScorer:
        """Sentence scoring for this build (its IDF belongs to the build's sentences), made once
        per build; the one before is kept for the requests still on it during a swap."""
        scorer = self._scorers.get(index.name)
        if scorer is None:
            scorer = SentenceScorer(index)
            kept = list(self._scorers.items())[-1:]
            self._scorers = {**dict(kept), index.name: scorer}
        return scorer

    def check_index(self) -> None:
        """Raise :class:`IndexMissing` when the loaded index can no longer be read."""
        try:
            count = self.index.collection.count()
        except Exception as exc:  # noqa: BLE001 - any storage fault means the same fix
            raise IndexMissing(_damaged(exc)) from None
        if count != len(self.index.chunks):
            raise IndexMissing("the index is damaged: run `clbp-chat ingest --rebuild`")

    def warm_up(self) -> None:
        """Load the gate, the model and the index now rather than on the first question: the
        stages a message runs through, in their order, without the question log."""
        verdict = self._check("warm up")
        if self._early_reply("warm up", verdict) is None:
            self._library("warm up", [], verdict)


def _patient_turns(history: Sequence[dict], longest: int, last: int = 3) -> list[str]:
    """The patient's own last few turns, read before the history is validated: a warning sign is
    answered whatever shape the rest of the history is in."""
    said = [
        m["content"][:longest]
        for m in history
        if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str)
    ]
    return said[-last:]


def _with_advice(route: str | None, verdict: safety.SafetyVerdict) -> safety.SafetyVerdict:
    """A message the router reads as asking for personal advice is answered as such."""
    if route == "personal_advice" and verdict.category is None:
        return safety.SafetyVerdict(safety.PERSONAL_ADVICE, reasons=("asks for advice",))
    return verdict


def _damaged(exc: Exception) -> str:
    return f"the index cannot be read ({type(exc).__name__}); run `clbp-chat ingest --rebuild`"


_engine: Engine | None = None


def get_engine() -> Engine:
    """The process-wide engine, built on first use."""
    global _engine
    if _engine is None:
        _engine = Engine()
    return _engine


def answer(question: str, history: Sequence[dict] = (), *, engine: Engine | None = None) -> Answer:
    """Answer one patient message from the corpus; see DESIGN.md for the three outcomes.

    Example::

        from clbp_chat import answer
        result = answer("Was there a placebo group?")
        print(result.outcome, result.answer)
        for c in result.citations:
            print(c.n, c.title, c.section, c.source)
    """
    return (engine or get_engine()).answer(question, history)


def _names_a_glossary_term(index: Index, question: str) -> bool:
    """The question names a term the glossary defines (an entry's heading)."""
    said = f" {name_form(question)} "
    return any(
        f" {name_form(re.sub(r'[(].*?[)]', ' ', chunk.section))} " in said
        for chunk in index.chunks
        if chunk.doc_type == "glossary" and chunk.section
    )
