"""The replies each outcome gets, built from ``messages.yaml``: a warning sign's, a declined
request's, an unreadable message's, small talk's, what the library does not cover, personal
advice with what the studies found, and the cited answer. The stages decide; this module words it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clbp_chat import safety
from clbp_chat.messages import messages, with_examples
from clbp_chat.records import Answer

if TYPE_CHECKING:
    from clbp_chat.compose import Composition
    from clbp_chat.config import Settings
    from clbp_chat.understand import Query


def warning_sign(settings: Settings, question: str, verdict: safety.SafetyVerdict) -> Answer:
    """The warning-sign or crisis reply: what was seen and why it matters, then what to do."""
    texts = messages(settings)
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


def declined(settings: Settings, question: str, verdict: safety.SafetyVerdict) -> Answer:
    """A prompt injection or an off-topic request: what the assistant can help with instead."""
    text = with_examples(settings, verdict.category)
    return Answer(question, "safety", text, [], verdict.category, verdict.signal)


def unreadable(settings: Settings, question: str, reading: str) -> Answer:
    """A message with no words, or not in English: a short reply naming the numbers."""
    text = str(messages(settings)[reading])
    return Answer(question, "no_evidence", text, reason="unreadable", topic=reading)


def small_talk(settings: Settings, question: str) -> Answer:
    return Answer(
        question, "no_evidence", with_examples(settings, "small_talk"), reason="small_talk"
    )


def not_covered(settings: Settings, query: Query, verdict: safety.SafetyVerdict) -> Answer:
    """Say plainly which part the library does not cover, then what it can help with."""
    said = " ".join(dict.fromkeys(t.says for t in query.uncovered))
    topic = ", ".join(dict.fromkeys(t.name for t in query.uncovered))
    if verdict.category == safety.PERSONAL_ADVICE:
        text = f"{messages(settings)['personal_advice_no_evidence']}\n\n{said}"
        return Answer(
            query.question, "safety", text, [], verdict.category, verdict.signal, topic=topic
        )
    text = f"{said}\n\n{with_examples(settings, 'no_evidence')}"
    common = {**understood(query), "topic": topic}
    return Answer(query.question, "no_evidence", text, reason="not_covered", **common)


def routed_away(settings: Settings, query: Query) -> Answer:
    """The router reads the message as one the library does not cover."""
    text = with_examples(settings, "no_evidence")
    return Answer(query.question, "no_evidence", text, reason="not_covered", **understood(query))


def from_evidence(
    settings: Settings,
    query: Query,
    composed: Composition,
    retrieved: list[str],
    verdict: safety.SafetyVerdict,
) -> Answer:
    """Answered, personal advice with what the studies found, or no evidence."""
    common = {**understood(query), "retrieved": retrieved}
    question = query.question
    if verdict.category == safety.PERSONAL_ADVICE:
        texts = messages(settings)
        if composed.has_evidence:
            text = f"{texts['personal_advice_lead']}\n\n{composed.text}"
        else:
            text = str(texts["personal_advice_no_evidence"])
        citations = composed.citations
        return Answer(
            question, "safety", text, citations, verdict.category, verdict.signal, **common
        )
    if composed.has_evidence:
        return Answer(question, "answered", composed.text, composed.citations, **common)
    text = with_examples(settings, "no_evidence")
    return Answer(question, "no_evidence", text, reason="no_evidence", **common)


def understood(query: Query) -> dict[str, str | None]:
    """What an answer records of the understanding: the standalone rewrite and the topic (the
    studies it names and its aspect, for the staff report)."""
    topic = " / ".join([*sorted(query.focus), *([query.aspect] if query.aspect else [])]) or None
    return {"standalone_question": query.standalone, "topic": topic}
