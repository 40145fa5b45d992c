"""The HTTP JSON API: ask, feedback and health (the pages around the chat are in pages.py)."""

import json
import os
import sys
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from clbp_chat.config import Settings
from clbp_chat.errors import ClbpError, InvalidQuestion
from clbp_chat.index import live_manifest
from clbp_chat.messages import messages
from clbp_chat.text import CONTROL_CHARS, WHITESPACE_CHARS, is_text
from clbp_chat.web.security import TOO_MANY, WINDOW_SECONDS, client_of, summary
from clbp_chat.web.state import EngineState


def _encodable(value: str) -> str:
    """A lone surrogate ("\\ud800") is valid JSON but no text: refuse it with a 422."""
    if not is_text(value):
        raise ValueError("contains characters that are not valid text")
    return value


# What the library refuses, said in the schema so generated clients (and fuzzers) know it too.
_QUESTION_TEXT = rf"^[^{CONTROL_CHARS}]*[^{WHITESPACE_CHARS}{CONTROL_CHARS}][^{CONTROL_CHARS}]*$"


class HistoryMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str

    _text = field_validator("content")(_encodable)


def request_models(
    settings: Settings, doc_ids: list[str]
) -> tuple[type[BaseModel], type[BaseModel]]:
    """The request bodies, with this clinic's limits and document ids in their schema."""

    class AskRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        question: str = Field(
            min_length=1,
            max_length=settings.max_question_chars,
            pattern=_QUESTION_TEXT,
            description="The patient's message.",
        )
        history: list[HistoryMessage] = Field(
            default_factory=list,
            max_length=settings.max_history_turns,
            description="Earlier turns, oldest first.",
        )

        _text = field_validator("question")(_encodable)

    known = Literal[tuple(doc_ids)] if doc_ids else Annotated[str, Field(max_length=64)]

    class FeedbackRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        rating: Literal["up", "down"]
        answer_id: str = Field(
            pattern=r"^[0-9a-f]{32}$",
            description="The answer_id of the rated answer, as this server gave it.",
        )
        outcome: Literal["answered", "no_evidence", "safety"] | None = None
        doc_ids: list[known] = Field(  # type: ignore[valid-type]
            default_factory=list, max_length=10, description="Doc ids the rated answer cited."
        )

    return AskRequest, FeedbackRequest


class ErrorBody(BaseModel):
    """Every error the API returns: one readable sentence."""

    error: str


ERRORS = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (404, "The answer_id names no answer this server gave."),
        (413, "The request body is too large."),
        (422, "The request is malformed (the sentence says what is wrong)."),
        (429, "Too many requests from this client; retry after a minute."),
        (503, "The index is not loaded or is damaged."),
    )
}


def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with one readable sentence instead of pydantic's nested error list (which would echo
    the patient's input)."""
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        return JSONResponse(
            status_code=422, content={"error": "the request body is not valid JSON"}
        )
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request body"
    message = str(first.get("msg", "invalid request")).split(" [")[0]
    if where == "question" or str(first.get("type")) == "string_unicode":
        message = _QUESTION_MESSAGES.get(str(first.get("type")), message)
    return JSONResponse(status_code=422, content={"error": f"{where}: {message}"})


# The same words the library uses when it refuses a question itself.
_QUESTION_MESSAGES = {
    "string_unicode": "contains characters that are not valid text",
    "string_too_short": "please type a question",
    "string_pattern_mismatch": "please type a question (text without control characters)",
    "string_too_long": "the question is too long; please keep it under the limit of "
    "characters shown in the chat",
}


def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Framework errors in the documented shape; a body that cannot be decoded is a 422."""
    status = 422 if exc.status_code == 400 else exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else "invalid request"
    if exc.status_code == 400:
        detail = "the request body could not be read as JSON text"
    return JSONResponse({"error": detail}, status_code=status, headers=exc.headers)


def _method_not_allowed(allowed: str) -> JSONResponse:
    return JSONResponse(
        {"error": f"use {allowed} for this address"}, status_code=405, headers={"Allow": allowed}
    )


def record_feedback(
    state: EngineState,
    rating: str,
    outcome: str | None,
    doc_ids: list[str],
    answer_id: str | None = None,
) -> None:
    """Append a thumbs up/down tied to its answer; never the patient's words."""
    folder = state.settings.data_dir
    folder.mkdir(parents=True, exist_ok=True)
    row = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "rating": rating,
        "answer_id": answer_id,
        "outcome": outcome,
        "doc_ids": doc_ids,
    }
    fd = os.open(folder / "feedback.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")


def build_router(state: EngineState) -> APIRouter:
    """The API's routes over one engine state; each handler is a function below."""
    router = APIRouter()
    manifest = live_manifest(state.settings) or {}
    AskRequest, FeedbackRequest = request_models(
        state.settings, sorted(manifest.get("documents", {}))
    )

    @router.get("/healthz")
    def healthz() -> JSONResponse:
        return health(state)

    @router.post("/api/ask", responses=ERRORS)
    async def ask(body: AskRequest, request: Request) -> dict:  # type: ignore[valid-type]
        return await ask_library(state, body.question, body.history, request)

    @router.post("/api/feedback", status_code=204, responses=ERRORS)
    def feedback(body: FeedbackRequest) -> None:  # type: ignore[valid-type]
        return rate_answer(state, body)

    for path, allowed in (("/api/ask", "POST"), ("/api/feedback", "POST"), ("/healthz", "GET")):
        wrong = (
            ["GET", "PUT", "PATCH", "DELETE"] if allowed == "POST" else ["POST", "PUT", "DELETE"]
        )
        router.add_api_route(
            path,
            lambda allowed=allowed: _method_not_allowed(allowed),
            methods=wrong,
            include_in_schema=False,
        )
    return router


def health(state: EngineState) -> JSONResponse:
    """200 with the build served once the index is loaded and readable; 503 otherwise."""
    if state.ready and state.healthy():
        manifest = state.engine.index.manifest
        body = {"status": "ok", "chunks": manifest["chunk_count"], "build": state.build_name}
        if state.faults:
            body["faults"] = state.faults
        return JSONResponse(body)
    detail = state.error or "loading the index"
    return JSONResponse({"status": "unavailable", "detail": detail}, status_code=503)


async def ask_library(
    state: EngineState, question: str, history: list[HistoryMessage], request: Request
) -> dict | JSONResponse:
    """The ``ask --json`` object, or one sentence with the status that says why not."""
    texts = messages(state.settings)
    try:
        # Triage (the gate) in its own small pool of threads: a warning sign never queues
        # behind library work waiting on a slow store, nor behind the rate limit.
        triaged = await state.triage(question, [m.model_dump() for m in history])
        if triaged.reply is not None:
            result = triaged.reply
        elif not state.limiter.allow(client_of(state.settings, request)):
            return JSONResponse(
                {"error": TOO_MANY},
                status_code=429,
                headers={"retry-after": str(int(WINDOW_SECONDS))},
            )
        elif not state.ready:
            return JSONResponse({"error": str(texts["unavailable"])}, status_code=503)
        else:
            result = await run_in_threadpool(state.engine.from_library, triaged)
    except InvalidQuestion as exc:
        return JSONResponse({"error": str(exc)}, status_code=422)
    except Exception as exc:  # noqa: BLE001 - a patient gets one friendly line, never a 500
        if isinstance(exc, ClbpError):
            state.error = str(exc)  # the operator's fix, for /healthz
        print(summary(exc), file=sys.stderr)
        return JSONResponse({"error": str(texts["unavailable"])}, status_code=503)
    state.issued(result.answer_id)
    return result.to_json()


def rate_answer(state: EngineState, body: BaseModel) -> JSONResponse | None:
    """Store a rating of an answer this server gave (None: 204), or say why not."""
    known = set(state.engine.index.manifest.get("documents", {})) if state.ready else set()
    if any(d not in known for d in body.doc_ids):
        return JSONResponse({"error": "doc_ids: unknown document id"}, status_code=422)
    if not state.was_issued(body.answer_id):
        return JSONResponse(
            {"error": "answer_id: no answer with this id was given here"}, status_code=404
        )
    try:
        record_feedback(state, body.rating, body.outcome, body.doc_ids, body.answer_id)
    except OSError as exc:
        print(f"clbp-chat: feedback not saved ({exc.strerror})", file=sys.stderr)
        return JSONResponse({"error": "the rating could not be saved"}, status_code=503)
    return None
