"""The server's engine, loaded in the background so /healthz can answer 503 until it is ready."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from clbp_chat.answer import Engine
from clbp_chat.config import Settings
from clbp_chat.errors import ClbpError
from clbp_chat.web.security import RateLimiter

# /healthz checks the index itself at most this often (a load balancer may poll every second).
HEALTH_TTL_SECONDS = 5.0
# Threads for triage (the safety gate, milliseconds a message), apart from the library's: a
# warning sign never waits for a worker that waits on a slow store.
TRIAGE_THREADS = 8
# Answer ids remembered for feedback: ratings name an answer this server gave, never an invented
# id. At 30 questions a minute per client this is hours of traffic, in about 5 MB.
ISSUED_ANSWERS = 50_000


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
        self._stopped = threading.Event()
        self._triage_limiter = None
        self._issued: OrderedDict[str, None] = OrderedDict()
        self._issued_lock = threading.Lock()

    async def triage(self, question: str, history: list[dict]):
        """``Engine.triage`` off the event loop, in the triage threads."""
        import anyio

        if self._triage_limiter is None:
            self._triage_limiter = anyio.CapacityLimiter(TRIAGE_THREADS)
        return await anyio.to_thread.run_sync(
            self.engine.triage, question, history, limiter=self._triage_limiter
        )

    def issued(self, answer_id: str) -> None:
        """Remember an answer this server gave, so feedback can name it."""
        with self._issued_lock:
            self._issued[answer_id] = None
            while len(self._issued) > ISSUED_ANSWERS:
                self._issued.popitem(last=False)

    def was_issued(self, answer_id: str | None) -> bool:
        with self._issued_lock:
            return answer_id is not None and answer_id in self._issued

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
        thread = threading.Thread(target=self._load_then_watch, name="clbp-load-index", daemon=True)
        thread.start()
        return thread

    def _load_then_watch(self) -> None:
        """Load, then look for a newer build every ``reload_seconds`` with no question needed, so
        /healthz names the live build and the first question after an ingest gets the new one."""
        self.load()
        every = self.settings.reload_seconds
        while every and not self._stopped.wait(every):
            try:
                if not self.ready:
                    self.load()  # a build repaired while the server was idle
                self.engine.live_index()
            except Exception:  # noqa: BLE001 - keep serving the loaded build; /healthz reports
                continue

    def stop(self) -> None:
        """End the build watcher (the app is shutting down)."""
        self._stopped.set()

    @property
    def faults(self) -> list[str]:
        """Parts that are broken but do not stop answers: a log that cannot be written, a model
        that could not load (the gate then reads with its patterns alone)."""
        faults = [self.engine.log_error] if self.engine.log_error else []
        if self.engine.gate.encoder is None:
            faults.append("the embedding model could not load: the safety gate uses patterns only")
        elif self.engine.classifiers is None:
            faults.append("the learned layers are off: the safety gate uses its rules only")
        return faults
