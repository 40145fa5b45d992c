"""What stands between the internet and the engine: body size, uploads, rate limits, headers.

Plain ASGI middleware, so a request over the size cap is refused before its body is read whole, and
nothing here ever reads or logs what a patient wrote.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clbp_chat.config import Settings

# Gradio's upload routes, under either mount (/ and /embed). Chat events are rate-limited inside
# the chat function instead, so the patient sees a friendly message rather than a broken request.
UPLOAD_SUFFIXES = ("/gradio_api/upload", "/upload")
RATE_LIMITED_API = ("/api/ask", "/api/feedback")
WINDOW_SECONDS = 60.0


def content_security_policy(settings: Settings) -> str:
    """Only this server's own resources; framing only by the clinic's origins.

    Gradio's page needs inline scripts and styles; images may be data: URLs (icons) but never
    another host, so a markdown image typed into the chat cannot make the browser fetch anything.
    """
    ancestors = " ".join(["'self'", *settings.allowed_origins])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "media-src 'self' data: blob:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            f"frame-ancestors {ancestors}",
        ]
    )


def client_address(settings: Settings, peer: str | None, headers: dict[str, str]) -> str:
    """The client's address: the peer, or the last untrusted hop of X-Forwarded-For when the peer
    is one of ``CLBP_TRUSTED_PROXIES`` (so every patient behind the proxy is not one client)."""
    peer = peer or "unknown"
    if not settings.trusted_proxies or not _trusted(peer, settings.trusted_proxies):
        return peer
    hops = [h.strip() for h in headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, settings.trusted_proxies):
            return hop
    return hops[0] if hops else peer


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _trusted(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)


class RateLimiter:
    """At most ``per_minute`` requests per client in any 60 seconds; 0 turns it off.

    The machine itself (loopback) is not limited: that is a local tool (an eval run) or a reverse
    proxy on the same host that was not declared in ``CLBP_TRUSTED_PROXIES``, and limiting it would
    throttle every patient behind it as one client. Declare the proxy and each patient is limited.
    """

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        if self.per_minute <= 0 or _loopback(client):
            return True
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(client, deque())
            while hits and now - hits[0] > WINDOW_SECONDS:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return False
            hits.append(now)
            if len(self._hits) > 10_000:  # forget idle clients so memory stays bounded
                for key in [k for k, v in self._hits.items() if not v][:5_000]:
                    del self._hits[key]
            return True


async def _json(send: Send, status: int, error: str, extra: dict | None = None) -> None:
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """Refuses uploads, bodies over the cap (413) and clients over the rate limit (429)."""

    def __init__(self, app: ASGIApp, settings: Settings, limiter: RateLimiter) -> None:
        self.app = app
        self.settings = settings
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path.endswith(UPLOAD_SUFFIXES):
            await _json(send, 403, "this server does not accept uploads")
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        cap = self.settings.max_request_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            await _json(send, 413, f"the request is larger than {cap} bytes")
            return
        if scope.get("method") == "POST" and path in RATE_LIMITED_API:
            peer = (scope.get("client") or (None,))[0]
            if not self.limiter.allow(client_address(self.settings, peer, headers)):
                await _json(
                    send,
                    429,
                    "too many questions in a short time; please wait a minute and try again",
                    {"retry-after": str(int(WINDOW_SECONDS))},
                )
                return
        await self.app(scope, _capped(receive, cap), send)


def _capped(receive: Receive, cap: int) -> Receive:
    """A body sent in chunks (no Content-Length) is cut off at the cap too."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > cap:
                raise BodyTooLarge(cap)
        return message

    return wrapped


class BodyTooLarge(Exception):
    """Raised while streaming a body past the cap; the app answers 413."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"the request is larger than {cap} bytes")


def withhold_exception_details() -> None:
    """Print only the type and place of server-side exceptions, never their message.

    Gradio prints a full traceback to stderr when a malformed API call fails validation, and
    pydantic's message quotes the input (``input_value='… I have cancer …'``), so a patient's
    words would reach the server log. SEE: gradio/queueing.py ``traceback.print_exc()``.
    """
    import logging
    import sys
    import traceback

    def print_exc(*_args, **_kwargs) -> None:
        exc = sys.exc_info()[1]
        if exc is not None:
            print(_summary(exc), file=sys.stderr)

    class _NoExceptionText(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if record.exc_info and record.exc_info[1] is not None:
                record.msg = f"{record.getMessage()} ({_summary(record.exc_info[1])})"
                record.args = ()
                record.exc_info = None
                record.exc_text = None
            return True

    traceback.print_exc = print_exc
    for name in ("uvicorn.error", "uvicorn", "gradio", "fastapi", "starlette", ""):
        logging.getLogger(name).addFilter(_NoExceptionText())


def _summary(exc: BaseException) -> str:
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f" at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else ""
    return f"clbp-chat: request failed with {type(exc).__name__}{where} (message withheld: it may quote what a patient typed)"
