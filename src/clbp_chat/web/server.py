"""The one server: FastAPI with the API, the widget, and the Gradio UI mounted at / and /embed."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Gradio's cache is a private folder of this process (0700), never the shared /tmp/gradio.
os.environ.setdefault("GRADIO_TEMP_DIR", tempfile.mkdtemp(prefix="clbp-gradio-"))
# Telemetry of every library off: onnxruntime would write a usage database under ~/.cache.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from fastapi import FastAPI, Request  # noqa: E402
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.middleware.cors import CORSMiddleware  # noqa: E402
from starlette.exceptions import HTTPException as StarletteHTTPException  # noqa: E402
from starlette.routing import Mount  # noqa: E402

from clbp_chat.answer import Engine  # noqa: E402
from clbp_chat.config import Settings  # noqa: E402
from clbp_chat.errors import ClbpError  # noqa: E402
from clbp_chat.messages import messages  # noqa: E402
from clbp_chat.privacy import drop_expired  # noqa: E402
from clbp_chat.web.api import (  # noqa: E402
    build_router,
    http_error,
    validation_error,
)
from clbp_chat.web.pages import build_pages, error_page  # noqa: E402
from clbp_chat.web.security import (  # noqa: E402
    GuardMiddleware,
    content_security_policy,
    withhold_exception_details,
)
from clbp_chat.web.staff import build_staff_router  # noqa: E402
from clbp_chat.web.state import EngineState  # noqa: E402

# Chat events the UI runs at once; more wait in Gradio's queue. One slow patient does not hold
# up the others, and the rate limit keeps one client from filling the queue.
UI_CONCURRENCY = 8


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """The whole web app; the engine loads in the background at start-up."""
    import gradio as gr

    from clbp_chat.web.ui import CSS_PATH, HEAD, THEME, build_ui

    state = EngineState(settings, engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        drop_expired(settings)  # the retention limit holds with logging off too
        state.load_in_background()
        yield
        state.stop()
        _empty(Path(os.environ["GRADIO_TEMP_DIR"]))

    app = FastAPI(title="clbp-chat", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.clbp = state
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
    )
    csp = content_security_policy(settings)
    staff_csp = content_security_policy(settings, framed=False)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        # The staff page is framed by nobody, whatever origins may frame the patient's chat.
        staff = request.url.path.startswith("/staff")
        response.headers["Content-Security-Policy"] = staff_csp if staff else csp
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    app.include_router(build_router(state))
    app.include_router(build_pages(state))
    app.include_router(build_staff_router(settings))
    common = {
        "theme": THEME,
        "css_paths": [CSS_PATH],
        "head": HEAD,
        "footer_links": [],
        "ssr_mode": False,
    }
    for path, embed in (("/embed", True), ("/", False)):
        ui = build_ui(state, embed=embed).queue(default_concurrency_limit=UI_CONCURRENCY)
        app = gr.mount_gradio_app(app, ui, path=path, **common)
        # Gradio's own 404s ({"detail": …}) in the README's shape: a page or {"error": …}.
        _gradio_app(app, path).add_exception_handler(StarletteHTTPException, error_page(state))
    # Outermost: refuse oversized bodies, uploads and floods before anything else runs.
    app.add_middleware(GuardMiddleware, settings=settings, limiter=state.limiter)
    return app


def _gradio_app(app: FastAPI, path: str) -> FastAPI:
    """The Gradio app mounted at ``path``."""
    return next(r.app for r in app.routes if isinstance(r, Mount) and r.path == path.rstrip("/"))


def _empty(folder: Path) -> None:
    """Remove what Gradio cached for this process (the folder stays: Gradio holds its name)."""
    for child in folder.glob("*"):
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def check_port(host: str, port: int) -> None:
    """Bind the way uvicorn will (SO_REUSEADDR, so a restart right after a stop works) and say in
    one line what is wrong: in use, not allowed, or an address this machine does not have."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise ClbpError(f"cannot resolve host {host!r}: use an address like 127.0.0.1") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            raise ClbpError(_bind_error(exc, host, port)) from None


def _bind_error(exc: OSError, host: str, port: int) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is already in use: choose another with --port"
    if exc.errno == errno.EACCES:
        return f"not allowed to listen on port {port}: use a port above 1023"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine: use 127.0.0.1 or 0.0.0.0"
    return f"cannot listen on {host}:{port} ({exc.strerror})"


def run(settings: Settings, host: str, port: int) -> None:
    """Check the index and the port, then serve until interrupted."""
    import uvicorn

    messages(settings)  # a text naming an unknown placeholder stops here, in one line
    engine = Engine(settings)
    _ = engine.index  # fail now, with the one-line message, if there is no usable index
    engine.check_index()
    engine.gate.check("warm up")  # the gate and its learned layer are ready before the port opens
    withhold_exception_details()
    check_port(host, port)
    print(f"clbp-chat: serving on http://{host}:{port}  (widget: http://{host}:{port}/embed-demo)")
    uvicorn.run(
        create_app(settings, engine),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        # Only the declared proxies' X-Forwarded-For is believed (uvicorn's own handling).
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
        timeout_keep_alive=5,
    )
