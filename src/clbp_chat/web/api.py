"""The HTTP JSON API and the small routes around it (health, widget, embed demo, feedback)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from clbp_chat.errors import ClbpError, InvalidQuestion
from clbp_chat.web.state import EngineState

STATIC = Path(__file__).with_name("static")


class HistoryMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str
    history: list[HistoryMessage] = Field(default_factory=list)


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: Literal["up", "down"]
    outcome: Literal["answered", "no_evidence", "safety"] | None = None
    doc_ids: list[str] = Field(default_factory=list, max_length=20)


def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with one readable sentence instead of pydantic's nested error list."""
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        return JSONResponse(
            status_code=422, content={"error": "the request body is not valid JSON"}
        )
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request body"
    return JSONResponse(
        status_code=422, content={"error": f"{where}: {first.get('msg', 'invalid request')}"}
    )


def record_feedback(
    state: EngineState, rating: str, outcome: str | None, doc_ids: list[str]
) -> None:
    """Append a thumbs up/down with the outcome and cited documents; never the patient's words."""
    folder = state.settings.data_dir
    folder.mkdir(parents=True, exist_ok=True)
    row = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "rating": rating,
        "outcome": outcome,
        "doc_ids": doc_ids,
    }
    with (folder / "feedback.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")


def build_router(state: EngineState) -> APIRouter:
    router = APIRouter()

    @router.get("/healthz")
    def healthz() -> JSONResponse:
        if state.ready:
            manifest = state.engine.index.manifest
            return JSONResponse({"status": "ok", "chunks": manifest["chunk_count"]})
        detail = state.error or "loading the index"
        return JSONResponse({"status": "unavailable", "detail": detail}, status_code=503)

    @router.post("/api/ask")
    def ask(body: AskRequest) -> dict:
        if not state.ready:
            raise HTTPException(503, detail=state.error or "the index is still loading")
        try:
            result = state.engine.answer(body.question, [m.model_dump() for m in body.history])
        except InvalidQuestion as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        except ClbpError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        return result.to_json()

    @router.post("/api/feedback", status_code=204)
    def feedback(body: FeedbackRequest) -> None:
        record_feedback(state, body.rating, body.outcome, body.doc_ids)

    @router.get("/widget.js")
    def widget() -> FileResponse:
        return FileResponse(STATIC / "widget.js", media_type="text/javascript")

    @router.get("/embed-demo")
    def embed_demo(request: Request) -> HTMLResponse:
        origin = str(request.base_url).rstrip("/")
        page = (STATIC / "embed-demo.html").read_text(encoding="utf-8")
        return HTMLResponse(page.replace("{{ORIGIN}}", origin))

    return router
