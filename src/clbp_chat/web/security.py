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

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clbp_chat.config import Settings

# Gradio's upload routes, under either mount (/ and /embed). Chat events are rate-limited inside
# the chat function instead, so the patient sees a friendly message rather than a broken request.
UPLOAD_SUFFIXES = ("/gradio_api/upload", "/upload")
# Gradio's file routes: this chat shows no files, so none is ever served, whatever the path names.
FILE_ROUTES = ("/file=", "/file/")
# Questions are limited inside /api/ask, after triage: a warning sign is answered even to a client
# over the limit. Ratings are limited here.
RATE_LIMITED_API = ("/api/feedback",)
WINDOW_SECONDS = 60.0


def content_security_policy(settings: Settings, *, framed: bool = True) -> str:
    """Only this server's own resources; framing only by the clinic's origins (by nobody when
    ``framed`` is False: the staff page).

    Gradio's page needs inline scripts and styles; images may be data: URLs (icons) but never
    another host, so a markdown image typed into the chat cannot make the browser fetch anything.
    """
    ancestors = " ".join(["'self'", *settings.allowed_origins]) if framed else "'none'"
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


def client_of(settings: Settings, request) -> str:
    """The rate limit's client for a Starlette or Gradio request."""
    peer = request.client.host if request and request.client else None
    headers = dict(request.headers) if request else {}
    return client_address(settings, peer, headers)


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
        self._swept = time.monotonic()

    def allow(self, client: str) -> bool:
        if self.per_minute <= 0 or _loopback(client):
            return True
        key, now = client_key(client), time.monotonic()
        with self._lock:
            if now - self._swept > WINDOW_SECONDS:
                self._sweep(now)
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] > WINDOW_SECONDS:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return False
            hits.append(now)
            return True

    def _sweep(self, now: float) -> None:
        """Forget clients idle for a whole window, so memory follows the active clients only."""
        self._hits = {k: v for k, v in self._hits.items() if v and now - v[-1] <= WINDOW_SECONDS}
        self._swept = now

    def __len__(self) -> int:
        return len(self._hits)


def client_key(client: str) -> str:
    """What the limit counts by: the address, or its /64 network for IPv6 (one home or phone
    holds a whole /64, so each of its addresses is not a new client)."""
    try:
        ip = ipaddress.ip_address(client)
    except ValueError:
        return client
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


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
        refusal = refused(path, scope.get("method", "GET"), scope.get("query_string", b""))
        if refusal:
            await _json(send, *refusal)
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
                await _json(send, 429, TOO_MANY, {"retry-after": str(int(WINDOW_SECONDS))})
                return
        if scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        # Every body is read whole first, against one deadline and the size cap, so a body that
        # trickles in gets 408 whatever route it is for, and a Gradio call is checked before
        # Gradio sees it.
        try:
            body = await _read_body(receive, cap, self.settings.body_timeout)
        except TimeoutError:
            await _json(send, 408, "the request body came too slowly")
            return
        if body is None:
            await _json(send, 413, f"the request is larger than {cap} bytes")
            return
        if "/gradio_api/" in path and not text_only(body, headers.get("content-type", "")):
            await _json(send, 422, "the chat accepts typed text only")
            return
        await self.app(scope, _replay(body, receive), send)


TOO_MANY = "too many questions in a short time; please wait a minute and try again"
# The only Gradio calls the chat page makes that send a body. Every other Gradio POST route
# (call/*, run/*, api/*, upload, process_recording, stream/*, component_server, vibe-*) takes
# files or runs things this chat never needs, so it is closed.
GRADIO_POSTS = ("/gradio_api/queue/join", "/gradio_api/cancel", "/gradio_api/reset")


def refused(path: str, method: str, query: bytes) -> tuple[int, str] | None:
    """(status, message) for a route this server never serves, else None."""
    if path.endswith(UPLOAD_SUFFIXES) or path.rstrip("/").endswith("/process_recording"):
        return 403, "this server does not accept uploads"
    if any(route in path for route in FILE_ROUTES):
        return 404, "not found"
    # Gradio's deep links write a session's conversation to disk and serve it back by id.
    if "deep_link" in path or b"deep_link" in query:
        return 404, "not found"
    if method == "POST" and "/gradio_api/" in path:
        tail = path[path.index("/gradio_api/") :].rstrip("/")
        if tail not in GRADIO_POSTS:
            return 404, "not found"
    return None


def text_only(body: bytes, content_type: str = "application/json") -> bool:
    """A Gradio call whose inputs are all text (or null, for server-side state). Gradio copies any
    file item it finds anywhere in a call's inputs into its cache, whatever component the input
    belongs to, so a call carrying anything but text is refused before Gradio sees it."""
    if body and "json" not in content_type:
        return False
    try:
        payload = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        return False
    if not isinstance(payload, dict):
        return False
    for key, value in payload.items():
        if key == "event_data":  # a like or a select: Gradio's own small record, no file item
            if not _plain(value, depth=3):
                return False
        elif key == "data":
            if not isinstance(value, list) or not all(_scalar(v) for v in value):
                return False
        elif not _scalar(value):
            return False
    return True


def _scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _plain(value: object, depth: int) -> bool:
    """Scalars, or small lists and dicts of them with no file record in them."""
    if _scalar(value):
        return True
    if depth == 0:
        return False
    if isinstance(value, list):
        return all(_plain(v, depth - 1) for v in value)
    if isinstance(value, dict):
        return (
            "path" not in value
            and "meta" not in value
            and all(_plain(v, depth - 1) for v in value.values())
        )
    return False


async def _read_body(receive: Receive, cap: int, seconds: float) -> bytes | None:
    """The whole body, or None past the cap; TimeoutError when it takes longer than ``seconds``."""
    if not seconds:
        return await _gather(receive, cap)
    with anyio.fail_after(seconds):
        return await _gather(receive, cap)


async def _gather(receive: Receive, cap: int) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > cap:
            return None
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then the connection's own messages (a disconnect, when it comes)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


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
            print(summary(exc), file=sys.stderr)

    class _NoExceptionText(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if record.exc_info and record.exc_info[1] is not None:
                record.msg = f"{record.getMessage()} ({summary(record.exc_info[1])})"
                record.args = ()
                record.exc_info = None
                record.exc_text = None
            return True

    traceback.print_exc = print_exc
    for name in ("uvicorn.error", "uvicorn", "gradio", "fastapi", "starlette", ""):
        logging.getLogger(name).addFilter(_NoExceptionText())


def summary(exc: BaseException) -> str:
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f" at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else ""
    return f"clbp-chat: request failed with {type(exc).__name__}{where} (message withheld: it may quote what a patient typed)"
