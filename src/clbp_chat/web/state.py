"""The server's engine, loaded in the background so /healthz can answer 503 until it is ready."""

from __future__ import annotations

import threading

from clbp_chat.answer import Engine
from clbp_chat.config import Settings
from clbp_chat.errors import ClbpError


class EngineState:
    """Holds the engine and whether it is ready; the index loads once, off the request path."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or Engine(settings)
        self.ready = False
        self.error: str | None = None
        self._lock = threading.Lock()

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
