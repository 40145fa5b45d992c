"""The first stage: a message and its history checked for shape and size before anything reads them.

A question that cannot be accepted raises :class:`InvalidQuestion` with a sentence a patient can act
on (exit code 2 on the command line, 422 over HTTP).
"""

from __future__ import annotations

import re
import unicodedata

from clbp_chat.config import Settings
from clbp_chat.errors import InvalidQuestion
from clbp_chat.text import CONTROL_CHARS, is_text

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
