"""The one entry point every front end calls: ``answer(question, history) -> Answer``.

The pipeline is a row of named stages: validate -> safety gate -> understand -> retrieve -> select
-> compose -> decide the outcome. Each stage is its own module; this one only wires them.
"""

from __future__ import annotations

import re
import sys
import threading
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from clbp_chat import safety
from clbp_chat.compose import Composition, compose_answer
from clbp_chat.config import Settings, get_settings
from clbp_chat.errors import ClbpError, IndexMissing, InvalidQuestion
from clbp_chat.evidence import Selection, clinic_page_section, select_sentences, study_docs
from clbp_chat.index import Index, live_build_name, open_index
from clbp_chat.language import read_language
from clbp_chat.learned import Classifiers, load_classifiers
from clbp_chat.messages import messages, with_examples
from clbp_chat.privacy import log_question
from clbp_chat.records import Answer
from clbp_chat.retrieve import ScoredChunk, hybrid_search, question_match
from clbp_chat.spelling import english_for
from clbp_chat.text import CONTROL_CHARS, is_text
from clbp_chat.understand import Query, read_message, vocabulary

_CONTROL = re.compile(f"[{CONTROL_CHARS}]")


def validate_question(question: object, settings: Settings) -> str:
    """The cleaned question, or :class:`InvalidQuestion` with a message a patient can act on."""
    if not isinstance(question, str):
        raise InvalidQuestion("the question must be text")
    if _CONTROL.search(question):
        raise InvalidQuestion("the question contains control characters; please type it again")
    if not is_text(question):
        raise InvalidQuestion("the question contains characters that are not valid text")
    # NFKC first: fullwidth and other compatibility forms read as the plain letters the rules
    # know, and the length limit holds for what is read (one character can unfold into 18).
    stripped = unicodedata.normalize("NFKC", question).strip()
    if not stripped:
        raise InvalidQuestion("please type a question")
    if len(stripped) > settings.max_question_chars:
        raise InvalidQuestion(
            f"the question is {len(stripped)} characters long; please keep it under "
            f"{settings.max_question_chars}"
        )
    return stripped


def validate_history(history: object, settings: Settings) -> list[dict[str, str]]:
    """History as a list of {"role", "content"} messages, checked for shape and size."""
    if history is None:
        return []
    if not isinstance(history, list | tuple):
        raise InvalidQuestion("history must be a list of messages")
    if len(history) > settings.max_history_turns:
        raise InvalidQuestion(
            f"the conversation is too long ({len(history)} messages); please start a new one"
        )
    checked = []
    for item in history:
        if (
            not isinstance(item, dict)
            or item.get("role") not in ("user", "assistant")
            or not isinstance(item.get("content"), str)
            or not is_text(item["content"])
        ):
            raise InvalidQuestion(
                'each history message must be {"role": "user" or "assistant", "content": text}'
            )
        checked.append(
            {"role": item["role"], "content": item["content"][: 4 * settings.max_question_chars]}
        )
    return checked


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
        self.log_error: str | None = None

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
            fresh.scorer  # noqa: B018 - build its IDF before it serves anyone
            self.__dict__["index"] = fresh

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

    def check_index(self) -> None:
        """Raise :class:`IndexMissing` when the loaded index can no longer be read."""
        try:
            count = self.index.collection.count()
        except Exception as exc:  # noqa: BLE001 - any storage fault means the same fix
            raise IndexMissing(_damaged(exc)) from None
        if count != len(self.index.chunks):
            raise IndexMissing("the index is damaged: run `clbp-chat ingest --rebuild`")

    def warm_up(self) -> None:
        """Load the gate, the model and the index now rather than on the first question."""
        self.gate.check("warm up the safety gate")
        self._answer("warm up", [])

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
        verdict = self._check(cleaned)
        # A warning sign is answered whatever the history holds (too long, malformed).
        warning = verdict.category in safety.TIER_ORDER
        turns = [] if warning else validate_history(list(history), self.settings)
        triaged = Triage(cleaned, turns, verdict, self._early_reply(cleaned, verdict), start)
        if triaged.reply is not None:
            self._finish(triaged, triaged.reply)
        return triaged

    def from_library(self, triaged: Triage) -> Answer:
        """Understand, route, retrieve, select and compose for a message triage let through."""
        result = self._library(triaged.question, triaged.history, triaged.verdict)
        return self._finish(triaged, result)

    def _finish(self, triaged: Triage, result: Answer) -> Answer:
        result.latency_ms = (time.perf_counter() - triaged.started) * 1000
        self.log_error = log_question(self.settings, result)
        return result

    def _answer(self, question: str, history: list[dict[str, str]]) -> Answer:
        """The stages in the order they run: gate, readability, understand, route, compose."""
        verdict = self._check(question)
        return self._early_reply(question, verdict) or self._library(question, history, verdict)

    def _early_reply(self, question: str, verdict: safety.SafetyVerdict) -> Answer | None:
        """The gate's and the readability check's reply, when the message gets one."""
        if verdict.category in (safety.EMERGENCY, safety.URGENT, safety.CRISIS):
            return self._safety_reply(question, verdict)
        unreadable = self._unreadable(question)
        if unreadable:
            return unreadable
        if verdict.category in (safety.PROMPT_INJECTION, safety.OUT_OF_SCOPE):
            text = with_examples(self.settings, verdict.category)
            return Answer(question, "safety", text, [], verdict.category, verdict.signal)
        return None

    def _library(
        self, question: str, history: list[dict[str, str]], verdict: safety.SafetyVerdict
    ) -> Answer:
        index = self.live_index()
        query = self.understand(question, history, index)
        common = {"standalone_question": query.standalone, "topic": _topic(query)}
        asked = question_match(index, query.question_vector)  # routing, retrieval, selection
        if clinic_page_section(index, asked) is not None:
            # The clinic wrote a page to answer this question: no topic, route or advice rule
            # turns it away (warning signs were answered before the library was asked).
            route, query.uncovered, verdict = None, [], safety.SafetyVerdict(None)
        else:
            route = self._route(question, query, verdict)
        if route == "small_talk":
            text = with_examples(self.settings, "small_talk")
            return Answer(question, "no_evidence", text, reason="small_talk")
        if query.uncovered:
            return self._not_covered(question, query, verdict, common)
        if route == "not_covered":
            text = with_examples(self.settings, "no_evidence")
            return Answer(question, "no_evidence", text, reason="not_covered", **common)
        if route == "personal_advice" and verdict.category is None:
            verdict = safety.SafetyVerdict(safety.PERSONAL_ADVICE, reasons=("asks for advice",))
        composed, retrieved = self._compose(index, query, asked)
        common["retrieved"] = retrieved
        if verdict.category == safety.PERSONAL_ADVICE:
            return self._personal_advice(question, composed, verdict, common)
        if composed.has_evidence:
            return Answer(question, "answered", composed.text, composed.citations, **common)
        text = with_examples(self.settings, "no_evidence")
        return Answer(question, "no_evidence", text, reason="no_evidence", **common)

    def understand(self, question: str, history: list[dict[str, str]], index: Index) -> Query:
        """The :class:`Query` for a message triage let through: read, embedded once, its aspect
        and the study it describes read by the learned heads."""
        described = self._described_study(question)
        texts = messages(self.settings)
        query = read_message(question, history, index, described, texts=texts)
        # Two vectors in one model call: the message with its corpus terms for retrieval, and the
        # message as written for matching the questions sections list. Appended terms pulled
        # "Which study was the largest?" off its own listed question (0.72 instead of 1.0); matched
        # as written, blind 334 -> 337 of 399 with no new false alarm.
        query.vector, query.question_vector = self.encoder([query.search_text, query.text])
        if self.classifiers is not None:
            query.aspect = self.classifiers.aspect(question)
        return query

    def _check(self, question: str) -> safety.SafetyVerdict:
        """The gate's verdict; a fault in its model layer leaves the patterns to decide."""
        try:
            return self.gate.check(question)
        except Exception as exc:  # noqa: BLE001 - the reply must come whatever breaks
            print(
                f"clbp-chat: safety gate fell back to patterns ({type(exc).__name__})",
                file=sys.stderr,
            )
            return safety.check(question)

    def _unreadable(self, question: str) -> Answer | None:
        """A message with no words, or not in English, gets a short reply naming the numbers."""
        reading = read_language(question, self.gate.english_words)
        if reading == "ok":
            return None
        text = str(messages(self.settings)[reading])
        return Answer(question, "no_evidence", text, reason="unreadable", topic=reading)

    def _described_study(self, question: str) -> str | None:
        """The doc id of the study the message describes, by the learned study head."""
        if self.classifiers is None or not vocabulary().study_reference.search(question):
            return None
        label = self.classifiers.study(question)
        return study_docs().get(label) if label else None

    def _route(self, question: str, query: Query, verdict: safety.SafetyVerdict) -> str | None:
        """What kind of message it is, when the learned router is confident; None otherwise."""
        if self.classifiers is None or query.standalone:
            return None
        return self.classifiers.route(question)

    def select(
        self, index: Index, query: Query, asked: dict[int, float]
    ) -> tuple[Selection, list[ScoredChunk]]:
        """Retrieve and select: the sentences that answer ``query`` (with the best relevance,
        even below the evidence bar) and the passages they were chosen from."""
        try:
            hits = hybrid_search(
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
        selection = select_sentences(
            index,
            index.scorer,
            query,
            hits,
            min_evidence=self.settings.min_evidence,
            max_sentences=self.settings.max_sentences,
            asked=asked,
        )
        return selection, hits

    def _compose(
        self, index: Index, query: Query, asked: dict[int, float]
    ) -> tuple[Composition, list[str]]:
        selection, hits = self.select(index, query, asked)
        retrieved = list(dict.fromkeys(h.chunk.doc_id for h in hits))
        texts = messages(self.settings)
        return compose_answer(index, selection.rows, query.focus, texts=texts), retrieved

    def _safety_reply(self, question: str, verdict: safety.SafetyVerdict) -> Answer:
        """The warning-sign or crisis reply: what was seen and why it matters, then what to do."""
        texts = messages(self.settings)
        top = verdict.signals[0]
        if verdict.category == safety.CRISIS:
            text = str(texts["crisis_plan" if verdict.has_plan else "crisis"])
        else:
            text = str(texts[verdict.category]).replace("{why}", top.why)
            if top.name == "injection_infection":
                text += f" {texts['after_injection']}"
            if verdict.also_crisis:
                crisis_key = "crisis_plan" if verdict.has_plan else "crisis"
                text += f"\n\n{texts[crisis_key]}"
        return Answer(question, "safety", text, [], verdict.category, verdict.signal)

    def _not_covered(
        self, question: str, query: Query, verdict: safety.SafetyVerdict, common: dict
    ) -> Answer:
        """Say plainly which part the library does not cover, then what it can help with."""
        said = " ".join(dict.fromkeys(t.says for t in query.uncovered))
        common = {**common, "topic": ", ".join(dict.fromkeys(t.name for t in query.uncovered))}
        text = f"{said}\n\n{with_examples(self.settings, 'no_evidence')}"
        if verdict.category == safety.PERSONAL_ADVICE:
            lead = messages(self.settings)["personal_advice_no_evidence"]
            return Answer(
                question,
                "safety",
                f"{lead}\n\n{said}",
                [],
                verdict.category,
                verdict.signal,
                topic=common["topic"],
            )
        return Answer(question, "no_evidence", text, reason="not_covered", **common)

    def _personal_advice(
        self, question: str, composed: Composition, verdict: safety.SafetyVerdict, common: dict
    ) -> Answer:
        texts = messages(self.settings)
        if composed.has_evidence:
            text = f"{texts['personal_advice_lead']}\n\n{composed.text}"
        else:
            text = str(texts["personal_advice_no_evidence"])
        return Answer(
            question,
            "safety",
            text,
            composed.citations,
            verdict.category,
            verdict.signal,
            **common,
        )


def _topic(query: Query) -> str | None:
    """What a message is about, for the staff report: the studies it names and its aspect."""
    return " / ".join([*sorted(query.focus), *([query.aspect] if query.aspect else [])]) or None


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
