"""The one entry point every front end calls: ``answer(question, history) -> Answer``."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Sequence
from functools import cached_property

from clbp_chat import safety
from clbp_chat.compose import SentenceScorer, compose_answer
from clbp_chat.config import Settings, get_settings
from clbp_chat.errors import InvalidQuestion
from clbp_chat.followup import standalone_question
from clbp_chat.index import Index, open_index
from clbp_chat.messages import messages, with_examples
from clbp_chat.privacy import log_question
from clbp_chat.retrieve import hybrid_search
from clbp_chat.text import tokenize
from clbp_chat.types import Answer

# Words that show a question is about this clinic's subject even when the library cannot answer it:
# those get "the library doesn't cover that" (no_evidence), the rest an off-topic reply.
DOMAIN_WORDS = frozenset(
    tokenize(
        """back spine spinal disc disk pain stem cell cells injection inject treatment therapy study
        studies trial trials doctor clinic patient surgery procedure medicine medication drug dose
        safe safety risk side effect evidence placebo cost price insurance pay covered recovery
        arthritis knee hip neck shoulder joint disease cancer health hurt ache mri result research
        sciatica nerve bone marrow fat donor cure heal operation physio exercise opioid"""
    )
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def validate_question(question: object, settings: Settings) -> str:
    """The cleaned question, or :class:`InvalidQuestion` with a message a patient can act on."""
    if not isinstance(question, str):
        raise InvalidQuestion("the question must be text")
    if _CONTROL.search(question):
        raise InvalidQuestion("the question contains control characters; please type it again")
    cleaned = unicodedata.normalize("NFC", question).strip()
    if not cleaned:
        raise InvalidQuestion("please type a question")
    if len(cleaned) > settings.max_question_chars:
        raise InvalidQuestion(
            f"the question is {len(cleaned)} characters long; please keep it under "
            f"{settings.max_question_chars}"
        )
    return cleaned


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
        ):
            raise InvalidQuestion(
                'each history message must be {"role": "user" or "assistant", "content": text}'
            )
        checked.append(
            {"role": item["role"], "content": item["content"][: 4 * settings.max_question_chars]}
        )
    return checked


class Engine:
    """Holds the loaded index and model; build one per process (``get_engine``) and reuse it."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()

    @cached_property
    def index(self) -> Index:
        return open_index(self.settings)

    @cached_property
    def scorer(self) -> SentenceScorer:
        return SentenceScorer(self.index)

    @property
    def embeddings(self):
        from clbp_chat.embeddings import get_embeddings

        return get_embeddings(self.settings.embedding_model)

    def warm_up(self) -> None:
        """Load the index and the model now rather than on the first question."""
        self.scorer.score("warm up", self.embeddings.encode(["warm up"])[0], [0])

    def evidence_bar(self, query: str) -> float:
        """The relevance a passage needs: higher when the question names a topic the corpus lacks."""
        if self.index.speller.uncovered(query):
            return self.settings.min_evidence_uncovered
        return self.settings.min_evidence

    def answer(self, question: str, history: Sequence[dict] = ()) -> Answer:
        start = time.perf_counter()
        cleaned = validate_question(question, self.settings)
        turns = validate_history(list(history), self.settings)
        result = self._answer(cleaned, turns)
        result.latency_ms = (time.perf_counter() - start) * 1000
        log_question(self.settings, result)
        return result

    def _answer(self, question: str, history: list[dict[str, str]]) -> Answer:
        texts = messages(self.settings)
        verdict = safety.check(question)
        if verdict.category == safety.EMERGENCY:
            text = texts["emergency"] + (f"\n\n{texts['crisis']}" if verdict.also_crisis else "")
            return Answer(question, "safety", text, safety_category=safety.EMERGENCY)
        if verdict.category == safety.CRISIS:
            return Answer(question, "safety", str(texts["crisis"]), safety_category=safety.CRISIS)
        if verdict.category in (safety.PROMPT_INJECTION, safety.OUT_OF_SCOPE):
            text = with_examples(self.settings, verdict.category)
            return Answer(question, "safety", text, safety_category=verdict.category)

        corrected = self.index.speller.correct(question)
        standalone = standalone_question(corrected, history, self.index)
        query = standalone or corrected
        hits = hybrid_search(self.index, query, self.settings.retrieve_k, self.settings.rrf_k)
        vector = self.embeddings.encode([query])[0]
        composed = compose_answer(
            self.index,
            self.scorer,
            query,
            vector,
            hits,
            min_evidence=self.evidence_bar(query),
            max_sentences=self.settings.max_sentences,
        )
        common = {
            "standalone_question": standalone,
            "retrieved": list(dict.fromkeys(h.chunk.doc_id for h in hits)),
        }
        if verdict.category == safety.PERSONAL_ADVICE:
            if composed.has_evidence:
                text = f"{texts['personal_advice_lead']}\n\n{composed.text}"
            else:
                text = str(texts["personal_advice_no_evidence"])
            return Answer(
                question, "safety", text, composed.citations, safety.PERSONAL_ADVICE, **common
            )
        if composed.has_evidence:
            return Answer(question, "answered", composed.text, composed.citations, **common)
        if not set(tokenize(query)) & DOMAIN_WORDS:
            text = with_examples(self.settings, "out_of_scope")
            return Answer(question, "safety", text, safety_category=safety.OUT_OF_SCOPE, **common)
        return Answer(
            question, "no_evidence", with_examples(self.settings, "no_evidence"), **common
        )


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
