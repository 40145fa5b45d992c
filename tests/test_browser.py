"""The widget end to end in Debian's headless Chromium against a real `clbp-chat serve`.

A host page on a second local origin holds only the widget snippet. At the four sizes of issue 21
the tests open the widget, check that the question box is inside the panel's visible area on open
and after three answers, follow a citation, check that safety replies take no rating and that the
numbers to call are tap-to-call links that never wrap, and save a screenshot to artifacts/; they fail
if the page ever requests anything but the two local servers, run axe-core's WCAG 2.0/2.1/2.2 A and
AA rules on both pages at two widths before and after an answer, drive the whole flow by keyboard
alone, and check that a page on a refused origin gets one line for its owner.
"""

from __future__ import annotations

import shutil
import threading
from functools import partial
from http.server import HTTPServer, SimpleHTTPRequestHandler
from pathlib import Path

import pytest

from .conftest import CORPUS, ROOT
from .support import free_port, running_server

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"
CLINIC = "Riverside Spine Clinic"
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
    host_port = free_port()
    host_origin = f"http://127.0.0.1:{host_port}"
    env = {
        "CLBP_INDEX_DIR": str(built_index_dir),
        "CLBP_CORPUS_DIR": str(CORPUS),
        "CLBP_ALLOWED_ORIGINS": host_origin,
        "CLBP_DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "CLBP_CLINIC_NAME": CLINIC,
        "CLBP_EMERGENCY_NUMBER": "999",
        "CLBP_CRISIS_LINE": "Samaritans on 116 123",
    }
    with running_server(env) as base:
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
        yield base, host_origin, host_port
        httpd.shutdown()


def launch(p):
    return p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def inside(frame_box: dict, box: dict) -> bool:
    """``box`` lies wholly within ``frame_box`` (both page coordinates)."""
    return (
        box["x"] >= frame_box["x"] - 0.5
        and box["y"] >= frame_box["y"] - 0.5
        and box["x"] + box["width"] <= frame_box["x"] + frame_box["width"] + 0.5
        and box["y"] + box["height"] <= frame_box["y"] + frame_box["height"] + 0.5
    )


def ask(frame, question: str) -> None:
    """Type a question into the chat and wait for its reply."""
    replies = frame.locator("#clbp-chat .bot-row")
    before = replies.count()
    box = frame.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")
    replies.nth(before).wait_for(timeout=60_000)


SIZES = [(1366, 768), (1280, 720), (390, 844), (375, 667)]


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_widget_on_another_origin_keeps_the_box_in_view_links_sources_and_calls(
    server, width, height
):
    from playwright.sync_api import sync_playwright

    base, host_origin, _ = server
    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{host_origin}/index.html")
        page.get_by_role("button", name="Ask about stem cells").click()
        frame = page.frame_locator("#clbp-chat-frame")
        box = frame.locator("#clbp-question")
        box.locator("textarea").wait_for(timeout=30_000)
        panel = page.locator("#clbp-chat-frame").bounding_box()
        assert inside(panel, box.bounding_box()), "the question box is not in view on open"
        # Waits: on a loaded machine the header may paint after the composer.
        frame.get_by_role("heading", name=CLINIC).wait_for(state="visible", timeout=30_000)

        ask(frame, "How many people were in the Pettine study?")
        ask(frame, "I want to end my life")
        ask(frame, "I suddenly can't control my bladder and my groin is numb")
        assert inside(panel, box.bounding_box()), "the question box left the panel after answers"
        page.screenshot(path=str(ARTIFACTS / f"widget-{width}x{height}.png"))

        rows = frame.locator("#clbp-chat .bot-row")
        answer, crisis, emergency = rows.nth(0), rows.nth(1), rows.nth(2)
        answer.scroll_into_view_if_needed()
        answer.get_by_role("button", name="Like", exact=True).wait_for(state="visible")
        for reply in (crisis, emergency):  # hidden buttons have no role: none is offered
            assert reply.get_by_role("button", name="Like", exact=True).count() == 0
        call = crisis.locator('a[href="tel:116123"]')
        assert call.inner_text() == "116 123"
        assert call.evaluate("a => a.getClientRects().length") == 1, "the number wraps"
        assert emergency.locator('a[href="tel:999"]').count() >= 1

        cite = answer.get_by_role("link", name="[1]").first
        cite.click()
        focused = frame.locator(":focus")
        assert focused.evaluate("el => el.tagName") == "SUMMARY"
        assert focused.evaluate("el => el.parentElement.open && el.parentElement.id") == (
            cite.get_attribute("href").lstrip("#")
        )
        assert focused.inner_text().startswith("[1] Pettine 2015 · ")
        page.screenshot(path=str(ARTIFACTS / f"widget-{width}x{height}-source.png"))
        browser.close()
    foreign = [u for u in requests if not u.startswith((base, host_origin, "data:", "blob:"))]
    assert not foreign, f"the page contacted third parties: {foreign[:5]}"


def test_a_page_on_a_refused_origin_tells_its_owner_in_one_line(server):
    from playwright.sync_api import sync_playwright

    _, _, host_port = server
    refused = f"http://localhost:{host_port}"  # the same site by another name: not allowed
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        warnings: list[str] = []
        page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
        page.goto(f"{refused}/index.html")
        page.get_by_role("button", name="Ask about stem cells").click()
        line = page.locator("#clbp-chat-refused").inner_text()
        browser.close()
    assert line.startswith(f"clbp-chat: this page's origin ({refused}) may not show the chat")
    assert "CLBP_ALLOWED_ORIGINS" in line and warnings == [line]


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.mark.parametrize("path", ["/", "/embed/"])
@pytest.mark.parametrize("width", [1280, 375])
def test_pages_have_zero_axe_violations_before_and_after_answers(server, path, width):
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    base, _, _ = server
    axe = Axe()
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": width, "height": 800})
        page.goto(base + path)
        page.wait_for_selector("#clbp-question textarea", timeout=30_000)
        found = {}
        for moment in ("before", "after"):
            if moment == "after":  # a cited answer, and a crisis reply with numbers to call
                ask(page, "How many people were in the Pettine study?")
                ask(page, "I want to end my life")
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

    _, host_origin, _ = server
    with sync_playwright() as p:
        browser = launch(p)
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


def test_full_page_is_the_clinics_chat_with_starters_until_the_first_question(server):
    from playwright.sync_api import sync_playwright

    base, _, _ = server
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 320, "height": 480})
        page.goto(base + "/")
        box = page.get_by_label("Your question")
        box.wait_for(timeout=30_000)
        assert page.title().startswith(f"{CLINIC}: ")
        page.get_by_text("not medical advice").first.wait_for(state="visible")
        assert page.locator('#clbp-disclaimer a[href="tel:999"]').count() == 1
        box.focus()
        box.press("Enter")  # empty: nothing happens, the focus stays
        page.wait_for_timeout(1_000)
        assert page.locator("#clbp-chat .message-row").count() == 0
        assert page.evaluate("document.activeElement.tagName") == "TEXTAREA"
        page.get_by_role("button", name="Is stem cell therapy safe?").click()
        page.get_by_text("How strong is this evidence?", exact=False).first.wait_for(timeout=60_000)
        assert page.get_by_role("button", name="Is stem cell therapy safe?").count() == 0
        page.screenshot(path=str(ARTIFACTS / "full-page-320x480.png"))
        assert inside(page.viewport_size | {"x": 0, "y": 0}, box.bounding_box())
        page.get_by_role("button", name="New chat").click()
        page.get_by_role("button", name="Is stem cell therapy safe?").wait_for(timeout=10_000)
        assert page.locator("#clbp-chat .message-row").count() == 0
        browser.close()
