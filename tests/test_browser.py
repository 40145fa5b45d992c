"""The widget end to end in Debian's headless Chromium against a real `clbp-chat serve`.

A host page on a second local origin holds only the widget snippet. The tests open the widget, ask
a question, wait for a cited answer, open a source, save screenshots (desktop and 375 px wide) to
artifacts/, fail if the page ever requests anything but the two local servers, run axe-core's
WCAG 2.0/2.1/2.2 A and AA rules on both pages at both widths before and after an answer, and drive
the whole flow by keyboard alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from functools import partial
from http.server import HTTPServer, SimpleHTTPRequestHandler
from pathlib import Path

import pytest

from .conftest import CORPUS, ROOT, free_port

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


@pytest.fixture(scope="module")
def server(built_index_dir, tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (apt-get install chromium; make test does)")
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
    citation = frame.locator("#clbp-chat summary", has_text="[1] Pettine 2015").first
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
        page.screenshot(path=str(ARTIFACTS / f"widget-{name}.png"))
        # The answer's first line is in view, not the end of its source list.
        assert _in_view(frame, answer), "the new answer's start is scrolled out of view"
        citation.click()
        frame.get_by_text("Open the source").first.wait_for(timeout=10_000)
        page.screenshot(path=str(ARTIFACTS / f"widget-{name}-source-open.png"))
        browser.close()
    foreign = [u for u in requests if not u.startswith((base, host_origin, "data:", "blob:"))]
    assert not foreign, f"the page contacted third parties: {foreign[:5]}"


def _in_view(frame, locator) -> bool:
    return locator.evaluate(
        """el => { const box = el.getBoundingClientRect();
                   const chat = document.querySelector('#clbp-chat').getBoundingClientRect();
                   return box.top >= chat.top - 1 && box.top < chat.bottom; }"""
    )


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.mark.parametrize("path", ["/", "/embed/"])
@pytest.mark.parametrize("width", [1280, 375])
def test_pages_have_zero_axe_violations_before_and_after_an_answer(server, path, width):
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    base, _ = server
    axe = Axe()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": 800})
        page.goto(base + path)
        page.wait_for_selector("#clbp-question textarea", timeout=30_000)
        found = {}
        for moment in ("before", "after"):
            if moment == "after":
                page.fill("#clbp-question textarea", "How many people were in the Pettine study?")
                page.press("#clbp-question textarea", "Enter")
                page.locator("#clbp-chat summary").first.wait_for(timeout=60_000)
            result = axe.run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
            found[moment] = [
                (v["id"], n["target"]) for v in result.response["violations"] for n in v["nodes"]
            ]
        browser.close()
    assert found == {"before": [], "after": []}


def _tab_to(page, frame, tag: str, key: str, tries: int) -> bool:
    """Press ``key`` until an element with ``tag`` inside ``frame`` has focus (keyboard-only use)."""
    for _ in range(tries):
        page.keyboard.press(key)
        if frame.evaluate("document.activeElement && document.activeElement.tagName") == tag:
            return True
    return False


def test_keyboard_alone_reaches_the_answer_and_its_source_and_escape_closes(server):
    from playwright.sync_api import sync_playwright

    _, host_origin = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(f"{host_origin}/index.html")
        launcher = page.get_by_role("button", name="Ask about stem cells")
        launcher.wait_for()
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "clbp-chat-button"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "clbp-chat-close"
        frame = page.frame_locator("#clbp-chat-frame")
        frame.locator("#clbp-question textarea").wait_for(timeout=30_000)
        inner = page.frame(url=lambda u: "/embed" in u)
        if not _tab_to(page, inner, "TEXTAREA", "Tab", tries=25):
            pytest.fail("the question box cannot be reached with Tab")
        page.keyboard.type("How many people were in the Pettine study?")
        page.keyboard.press("Enter")
        frame.locator("#clbp-chat summary").first.wait_for(timeout=60_000)
        if not _tab_to(page, inner, "SUMMARY", "Shift+Tab", tries=40):  # then open it with Enter
            pytest.fail("no source can be reached with the keyboard")
        page.keyboard.press("Enter")
        assert inner.evaluate("document.activeElement.parentElement.open")
        page.keyboard.press("Escape")
        page.wait_for_function("document.activeElement.id === 'clbp-chat-button'", timeout=5_000)
        assert page.get_attribute("#clbp-chat-panel", "data-open") == "false"
        browser.close()


def test_full_page_shows_disclaimer_and_starter_questions(server):
    from playwright.sync_api import sync_playwright

    base, _ = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 375, "height": 740})
        page.goto(base + "/")
        page.get_by_text("not medical advice").first.wait_for(timeout=30_000)
        page.get_by_role("button", name="Is stem cell therapy safe?").click()
        page.get_by_text("How strong is this evidence?", exact=False).first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "full-page-phone-375.png"), full_page=True)
        browser.close()
