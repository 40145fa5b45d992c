"""The server's engine, loaded in the background so /healthz can answer 503 until it is ready."""

from __future__ import annotations

import threading
import time

from clbp_chat.answer import Engine
from clbp_chat.config import Settings
from clbp_chat.errors import ClbpError
from clbp_chat.web.security import RateLimiter

# /healthz checks the index itself at most this often (a load balancer may poll every second).
HEALTH_TTL_SECONDS = 5.0


class EngineState:
    """Holds the engine and whether it is ready; the index loads once, off the request path."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or Engine(settings)
        self.ready = False
        self.error: str | None = None
        self.limiter = RateLimiter(settings.rate_limit)
        self._lock = threading.Lock()
        self._checked_at = 0.0

    @property
    def build_name(self) -> str:
        return self.engine.index.name

    def healthy(self) -> bool:
        """The loaded index still answers (a damaged file turns /healthz to 503)."""
        now = time.monotonic()
        if self.error is None and now - self._checked_at < HEALTH_TTL_SECONDS:
            return True
        try:
            self.engine.check_index()
        except ClbpError as exc:
            self.error = str(exc)
            return False
        self.error = None
        self._checked_at = now
        return True

    def load(self) -> None:
        with self._lock:
            if self.ready:
                return
            try:
                self.engine.warm_up()
                self.ready = True
            except ClbpError as exc:
                self.error = str(exc)

    def load_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.load, name="clbp-load-index", daemon=True)
        thread.start()
        return thread
