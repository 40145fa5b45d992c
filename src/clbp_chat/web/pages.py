"""The pages around the chat: the widget script, the embed demo, the library pages a citation links
to (the clinic's summary, the glossary: one anchor per entry) and the page for an unknown address.

An unknown address gets a short HTML page in a browser and ``{"error": …}`` anywhere else, as the
README says; ``/embed`` (no slash) goes to the chat at ``/embed/``.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from clbp_chat.messages import messages
from clbp_chat.web.render import section_anchor, short_title
from clbp_chat.web.state import EngineState

STATIC = Path(__file__).with_name("static")
SNIPPET_PLACEHOLDER = "https://YOUR-CHAT-SERVER"
PAGE_STYLE = (
    "body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:760px;"
    "margin:2rem auto;padding:0 1rem;color:#1f2937}h2{font-size:1.15rem;margin-top:1.6rem}"
    ":target{background:#ccfbf1;outline:2px solid #0f766e}"
)


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """A small self-contained page (no script, no third-party resource)."""
    return HTMLResponse(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>",
        status_code=status,
    )


def widget_config(state: EngineState) -> dict[str, object]:
    """What the widget script needs to know: who may frame the chat, and its texts."""
    texts = messages(state.settings)
    return {
        "allowed": state.settings.allowed_origins,
        "title": texts["widget_title"],
        "close": texts["widget_close"],
        "refused": texts["widget_refused"],
    }


def error_page(state: EngineState):
    """The handler for an unknown address under every mount (Gradio's included)."""

    async def handler(request: Request, exc: StarletteHTTPException) -> Response:
        """A page for a browser, ``{"error": …}`` for anything else. Other errors keep Gradio's
        shape: its page reads them."""
        if exc.status_code != 404:
            return await http_exception_handler(request, exc)
        texts = messages(state.settings)
        if "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"error": "not found"}, status_code=404)
        body = (
            f"<h1>{html.escape(str(texts['not_found']))}</h1>"
            f'<p><a href="/">{html.escape(str(texts["not_found_link"]))}</a></p>'
        )
        return page(str(texts["not_found"]), body, status=404)

    return handler


def build_pages(state: EngineState) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    not_found = error_page(state)

    @router.get("/widget.js")
    def widget() -> Response:
        script = (STATIC / "widget.js").read_text(encoding="utf-8")
        config = json.dumps(widget_config(state)).replace("<", "\\u003c")
        return Response(script.replace("/*CLBP_CONFIG*/{}", config), media_type="text/javascript")

    @router.get("/embed-demo")
    def embed_demo() -> HTMLResponse:
        # The snippet names the configured public address, never the request's Host header.
        origin = state.settings.public_url or SNIPPET_PLACEHOLDER
        allowed = state.settings.allowed_origins
        listed = ", ".join(f"<code>{html.escape(o)}</code>" for o in allowed) or "none yet"
        refused = str(messages(state.settings)["widget_refused"]).format(
            origin="https://www.yourclinic.example"
        )
        text = (STATIC / "embed-demo.html").read_text(encoding="utf-8")
        for name, value in (
            ("ORIGIN", html.escape(origin)),
            ("ALLOWED", listed),
            ("REFUSED", html.escape(refused)),
        ):
            text = text.replace("{{" + name + "}}", value)
        return HTMLResponse(text)

    @router.get("/embed-demo.js")
    def embed_demo_script() -> Response:
        script = (STATIC / "embed-demo.js").read_text(encoding="utf-8")
        return Response(script, media_type="text/javascript")

    @router.get("/embed")
    def embed_without_slash() -> RedirectResponse:
        return RedirectResponse("/embed/", status_code=307)

    @router.get("/library/{doc_id}")
    async def library(doc_id: str, request: Request) -> Response:
        manifest = state.engine.index.manifest if state.ready else {}
        title = manifest.get("documents", {}).get(doc_id)
        if title is None:
            return await not_found(request, StarletteHTTPException(404))
        sections: dict[str, list[str]] = {}
        for chunk in state.engine.index.chunks:
            if chunk.doc_id == doc_id:
                sections.setdefault(chunk.section, []).append(chunk.body)
        body = f"<h1>{html.escape(title)}</h1>" + "".join(
            f'<section id="{section_anchor(name)}" tabindex="-1"><h2>{html.escape(name)}</h2>'
            + "".join(f"<p>{html.escape(part)}</p>" for part in parts)
            + "</section>"
            for name, parts in sections.items()
        )
        return page(short_title(title), body)

    return router
