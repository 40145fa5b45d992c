"""The widget end to end in Debian's headless Chromium against a real `clbp-chat serve`.

A host page on a second local origin holds only the widget snippet. The test opens the widget, asks
a question, waits for a cited answer, opens the citation, saves screenshots (desktop and 375 px wide)
to artifacts/, and fails if the page ever requests anything but the two local servers.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from functools import partial
from http.server import HTTPServer, SimpleHTTPRequestHandler
from pathlib import Path

import pytest

from .conftest import CORPUS, ROOT

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(built_index_dir, tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (apt-get install chromium; .ci/run does)")
    port, host_port = free_port(), free_port()
    host_origin = f"http://127.0.0.1:{host_port}"
    env = {
        **os.environ,
        "CLBP_INDEX_DIR": str(built_index_dir),
        "CLBP_CORPUS_DIR": str(CORPUS),
        "CLBP_ALLOWED_ORIGINS": host_origin,
        "CLBP_DATA_DIR": str(tmp_path_factory.mktemp("data")),
    }
    cli = str(Path(sys.executable).with_name("clbp-chat"))
    proc = subprocess.Popen(
        [cli, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{base}/healthz", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"server did not become healthy: {proc.stdout.read()}")

    site = tmp_path_factory.mktemp("clinic-site")
    (site / "index.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>Clinic</title></head><body>"
        "<h1>Our clinic</h1>"
        f'<script src="{base}/widget.js" data-title="Ask about stem cells" '
        'data-color="#7c3aed" data-position="right" async></script></body></html>'
    )
    httpd = HTTPServer(
        ("127.0.0.1", host_port), partial(SimpleHTTPRequestHandler, directory=str(site))
    )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield base, host_origin
    httpd.shutdown()
    proc.terminate()
    proc.wait(timeout=20)


def ask_through_widget(page, question: str):
    page.get_by_role("button", name="Ask about stem cells").click()
    frame = page.frame_locator("#clbp-chat-frame")
    box = frame.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")
    citation = frame.get_by_text("[1] Pettine 2015", exact=False).first
    citation.wait_for(timeout=60_000)
    return frame, citation


@pytest.mark.parametrize(
    ("name", "viewport"), [("desktop", (1280, 860)), ("phone-375", (375, 740))]
)
def test_widget_on_another_origin_answers_with_an_openable_citation(server, name, viewport):
    from playwright.sync_api import sync_playwright

    base, host_origin = server
    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{host_origin}/index.html")
        frame, citation = ask_through_widget(page, "How many people were in the Pettine study?")
        answer = frame.locator("#clbp-chat").get_by_text("26 patients", exact=False).first
        answer.wait_for(timeout=30_000)
        citation.click()
        frame.get_by_text("Open the paper").first.wait_for(timeout=10_000)
        page.screenshot(path=str(ARTIFACTS / f"widget-{name}.png"))
        browser.close()
    foreign = [u for u in requests if not u.startswith((base, host_origin, "data:", "blob:"))]
    assert not foreign, f"the page contacted third parties: {foreign[:5]}"


def test_full_page_shows_disclaimer_and_starter_questions(server):
    from playwright.sync_api import sync_playwright

    base, _ = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 375, "height": 740})
        page.goto(base + "/")
        page.get_by_text("not medical advice").first.wait_for(timeout=30_000)
        page.get_by_text("Is stem cell therapy safe?").first.click()
        page.get_by_text("How strong is this evidence?", exact=False).first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "full-page-phone-375.png"), full_page=True)
        browser.close()
