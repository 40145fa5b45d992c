"""The staff report page, /staff: the same report as `clbp-chat report`, behind CLBP_STAFF_TOKEN.

Unset, the page does not exist (404). Set, a browser asks for it as a password (HTTP Basic, any
user name) and tools send it as a bearer token. Nothing on the patient's pages links here.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import html
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from clbp_chat.config import Settings
from clbp_chat.report import (
    FORMATS,
    Report,
    build_report,
    headline,
    parse_since,
    render,
    safety_line,
)

# Staff pages are never cached, indexed or shown to another site.
PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex", "X-Frame-Options": "DENY"}
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="clbp-chat staff", charset="UTF-8"'}
LOGGING_OFF = "Question logging is off (CLBP_LOG_QUESTIONS=false): nothing new is kept."
_MEDIA = {"text": "text/plain", "csv": "text/csv", "json": "application/json"}


def build_staff_router(settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/staff")
    def page(request: Request, since: str | None = None) -> Response:
        refused = _refusal(settings, request)
        if refused is not None:
            return refused
        try:
            start = parse_since(since)
        except ValueError as exc:
            return JSONResponse({"error": f"since: {exc}"}, status_code=422, headers=PRIVATE)
        return HTMLResponse(_page(build_report(settings, start), since), headers=PRIVATE)

    @router.get("/staff/report.{fmt}")
    def download(request: Request, fmt: str, since: str | None = None) -> Response:
        refused = _refusal(settings, request)
        if refused is not None:
            return refused
        if fmt not in FORMATS:
            return JSONResponse({"error": "not found"}, status_code=404)
        try:
            start = parse_since(since)
        except ValueError as exc:
            return JSONResponse({"error": f"since: {exc}"}, status_code=422, headers=PRIVATE)
        body = render(build_report(settings, start), fmt)
        return Response(body, media_type=f"{_MEDIA[fmt]}; charset=utf-8", headers=PRIVATE)

    return router


def _refusal(settings: Settings, request: Request) -> Response | None:
    """404 when the page is off, 401 (asking for the password) without the right token."""
    if settings.staff_token is None:
        return JSONResponse({"error": "not found"}, status_code=404)
    given = _credential(request.headers.get("authorization", ""))
    expected = settings.staff_token.get_secret_value().encode()
    if given is None or not hmac.compare_digest(given, expected):
        body = {"error": "the staff report needs the staff password (CLBP_STAFF_TOKEN)"}
        return JSONResponse(body, status_code=401, headers={**_CHALLENGE, **PRIVATE})
    return None


def _credential(header: str) -> bytes | None:
    """The token from ``Bearer TOKEN`` or from Basic's password (the user name is ignored)."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip().encode()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        return decoded.partition(b":")[2]
    return None


def _page(report: Report, since: str | None) -> str:
    esc = html.escape
    query = f"?{urlencode({'since': since})}" if since else ""
    rows = []
    for g in report.groups:
        rows.append(f"<h2>{esc(g.label)}: {esc(g.topic)} ({g.count})</h2><table>")
        rows += [
            f"<tr><td>{a.count}&times;</td><td>{esc(a.question)}</td><td>{esc(a.last_asked)}</td></tr>"
            for a in g.questions
        ]
        rows.append("</table>")
    safety = safety_line(report)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>clbp-chat: staff report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem}}
td{{padding:.2rem .6rem;vertical-align:top}}h2{{font-size:1.05rem;margin-top:1.5rem}}</style>
</head><body><main>
<h1>Questions to look at</h1>
<p>{esc(headline(report))}</p>
{"" if report.logging else f"<p>{esc(LOGGING_OFF)}</p>"}
{f"<p>{esc(safety)}</p>" if safety else ""}
<form method="get" action="/staff"><label for="since">Since (2026-11-30 or 7d)</label>
<input id="since" name="since" value="{esc(since or "")}"> <button>Show</button></form>
<p>Download: <a href="/staff/report.csv{esc(query)}">CSV</a> ·
<a href="/staff/report.json{esc(query)}">JSON</a></p>
{"".join(rows) or "<p>Nothing to look at.</p>"}
</main></body></html>"""
