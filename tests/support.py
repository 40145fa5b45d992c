"""Helpers the tests and the benchmarks share: a free loopback port, a real `clbp-chat serve`
process, waiting (bounded) until a server is ready or serves a given build, a damaged build.

Benchmarks import it as ``tests.support``; it imports nothing from the tests' fixtures.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CLI = Path(sys.executable).with_name("clbp-chat")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def damage_live_build(index_dir: Path) -> None:
    """Cut the live build's Chroma file short, as a full disk or a bad copy would."""
    build = index_dir / "builds" / (index_dir / "CURRENT").read_text().strip()
    with open(build / "chroma" / "chroma.sqlite3", "r+b") as fh:
        fh.truncate(4096)


def answers_200(url: str) -> bool:
    """GET ``url`` is a 200 now (refused, an error status or a timeout are not)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:  # urllib.error.URLError and HTTPError are OSErrors
        return False


def wait_for_200(url: str, seconds: float = 120, proc: subprocess.Popen | None = None) -> None:
    """Return once GET ``url`` is a 200; fail naming the address after ``seconds``, or at once
    when ``proc`` (the process that should answer) has exited."""
    deadline = time.monotonic() + seconds
    while not answers_200(url):
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{url}: the process exited with code {proc.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} never answered 200 within {seconds:.0f} s")
        time.sleep(0.2)


def health(base: str) -> dict:
    """The server's /healthz body (200 or 503)."""
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read())


def wait_for_build(base: str, build: str, seconds: float = 60) -> dict:
    """Poll only /healthz (no question wakes the server) until it names ``build``."""
    deadline = time.monotonic() + seconds
    while (body := health(base)).get("build") != build:
        if time.monotonic() > deadline:
            raise AssertionError(f"{base} never switched to build {build}; it says {body}")
        time.sleep(0.2)
    return body


def post_question(base: str, question: str, timeout: float = 60) -> dict:
    """One question through POST /api/ask; the reply's JSON."""
    request = urllib.request.Request(
        f"{base}/api/ask",
        data=json.dumps({"question": question}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


@contextmanager
def running_server(
    env: dict[str, str], *, cwd: Path | None = None, seconds: float = 120
) -> Iterator[str]:
    """A real `clbp-chat serve` on a free loopback port, with ``env`` over this environment and
    the rate limit off unless ``env`` sets it; yields its base URL once /healthz is 200, and
    stops it after. A server that never gets ready fails with the end of its output."""
    port = free_port()
    with tempfile.TemporaryFile() as output:
        proc = subprocess.Popen(
            [str(CLI), "serve", "--port", str(port)],
            cwd=cwd,
            env={**os.environ, "CLBP_RATE_LIMIT": "0", **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_for_200(f"{base}/healthz", seconds, proc)
            except AssertionError as exc:
                output.seek(0)
                tail = output.read().decode(errors="replace")[-2000:]
                raise AssertionError(f"{exc}; the server said:\n{tail}") from None
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def ready(client, seconds: float = 60):
    """An in-process test client once its /healthz is 200 (the engine loads in the background)."""
    deadline = time.monotonic() + seconds
    while client.get("/healthz").status_code != 200:
        if time.monotonic() > deadline:
            raise AssertionError(f"/healthz never answered 200 within {seconds:.0f} s")
        time.sleep(0.2)
    return client
