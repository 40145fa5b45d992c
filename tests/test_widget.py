"""The chat's texts, replies and pages, without a browser: real engine, real corpus, real app.

The browser side (layout, focus, the widget on another origin) is in test_browser.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from clbp_chat.config import Settings
from clbp_chat.errors import ConfigError
from clbp_chat.messages import messages
from clbp_chat.web.render import ReplyRenderer, tel_links

from .conftest import CORPUS, engine_with


def renderer_for(engine) -> ReplyRenderer:
    s = engine.settings
    numbers = [s.emergency_number, s.urgent_line, s.crisis_line]
    return ReplyRenderer(messages(s), numbers, lambda: engine.index.manifest)


def test_each_citation_marker_links_to_its_source_entry_labelled_by_study_and_section(engine):
    result = engine.answer("How many people were in the Pettine study?")
    shown = renderer_for(engine).reply(result, rateable=True)
    prefix = f"clbp-src-{result.answer_id[:8]}"
    markers = re.findall(r'<a class="clbp-cite" href="#([^"]+)"[^>]*>\[(\d+)\]</a>', shown)
    assert markers and all(target == f"{prefix}-{n}" for target, n in markers)
    assert f'<details id="{prefix}-1" class="clbp-source"><summary>[1] Pettine 2015 · ' in shown
    assert "(https://doi.org/10.1002/stem.1845)" in shown
    assert "clbp-no-rating" not in shown
    assert "<a " not in result.answer, "the API's answer text stays plain"


def test_a_glossary_source_links_to_its_own_entry_on_the_library_page(engine):
    shown = renderer_for(engine).reply(engine.answer("What is a placebo?"), rateable=True)
    assert "(/library/glossary#placebo)" in shown


def test_a_comparison_source_names_each_study_it_links(engine):
    result = engine.answer("Which of the studies had a placebo group?")
    assert [c for c in result.citations if c.doc_id == "study-comparison" and c.sources]
    shown = renderer_for(engine).reply(result, rateable=True)
    assert "paper 1" not in shown and re.search(
        r"\[(Amirdelfan|Kumar|Pettine|Atluri) 20\d\d\]", shown
    )


def test_numbers_to_call_are_tel_links_and_figures_in_answers_are_not(engine):
    local = engine_with(engine, crisis_line="Samaritans on 116 123", emergency_number="999")
    emergency = local.answer("I suddenly can't control my bladder and my groin is numb")
    shown = renderer_for(local).reply(emergency, rateable=False)
    assert '<a class="clbp-tel" href="tel:999">999</a>' in shown
    assert shown.endswith('<span class="clbp-no-rating"></span>')
    assert tel_links("call Samaritans on 116 123 now") == (
        'call Samaritans on <a class="clbp-tel" href="tel:116123">116 123</a> now'
    )
    assert tel_links("see https://www.nhs.uk/111 or call 111") == (
        'see https://www.nhs.uk/111 or call <a class="clbp-tel" href="tel:111">111</a>'
    )
    answered = renderer_for(local).reply(
        local.answer("How many people were in the Pettine study?"), rateable=True
    )
    assert "tel:" not in answered, "a study's figures are not phone numbers"


def test_clinic_name_and_numbers_fill_every_text_the_disclaimer_included(tmp_path):
    override = tmp_path / "texts.yaml"
    override.write_text("new_chat: Start again at {clinic_name}\n", encoding="utf-8")
    texts = messages(
        Settings(emergency_number="999", clinic_name="Riverside Spine", messages_file=override)
    )
    assert texts["disclaimer"].endswith("call 999.")
    assert texts["page_title"].startswith("Riverside Spine")
    assert texts["header_title"] == "Riverside Spine"
    assert texts["new_chat"] == "Start again at Riverside Spine"
    assert "{why}" in texts["emergency"], "the sign's sentence is filled when the reply is sent"


def test_an_unknown_placeholder_is_a_one_line_error(tmp_path):
    override = tmp_path / "texts.yaml"
    override.write_text("disclaimer: Call {emergancy_number}.\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"'disclaimer' names an unknown placeholder"):
        messages(Settings(messages_file=override))


@pytest.mark.slow
def test_serve_with_an_unknown_placeholder_exits_with_one_line_and_no_traceback(tmp_path):
    override = tmp_path / "texts.yaml"
    override.write_text("header_subtitle: Ask {clinc_name}\n", encoding="utf-8")
    env = {**os.environ, "CLBP_MESSAGES_FILE": str(override), "CLBP_CORPUS_DIR": str(CORPUS)}
    cli = str(Path(sys.executable).with_name("clbp-chat"))
    done = subprocess.run(
        [cli, "serve", "--port", "1"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: {override}: message 'header_subtitle' names an unknown placeholder "
        "{clinc_name} (known: {emergency_number}, {crisis_line}, {urgent_line}, {clinic_name})"
    ]


def test_logging_notice_shows_only_when_questions_are_kept(settings):
    from clbp_chat.web.state import EngineState
    from clbp_chat.web.ui import build_ui

    notice = str(messages(settings)["logging_notice"])

    def shown(**changes) -> bool:
        ui = build_ui(EngineState(settings.model_copy(update=changes)), embed=False)
        return any(getattr(block, "value", None) == notice for block in ui.blocks.values())

    assert shown(log_questions=True) and not shown(log_questions=False)


def test_embed_without_slash_goes_to_the_chat(client):
    response = client.get("/embed", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/embed/"


@pytest.mark.parametrize("path", ["/no-such-page", "/embed/no-such-page", "/api/nope"])
def test_unknown_addresses_answer_the_documented_error(client, path):
    plain = client.get(path)
    assert plain.status_code == 404 and plain.json() == {"error": "not found"}
    page = client.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "There is no page at this address." in page.text and 'href="/"' in page.text


def test_library_page_gives_each_glossary_entry_its_own_anchor(client):
    page = client.get("/library/glossary")
    assert page.status_code == 200
    assert '<section id="placebo" tabindex="-1"><h2>Placebo</h2>' in page.text
    assert client.get("/library/not-a-document").status_code == 404


def test_widget_script_knows_the_allowed_origins_and_its_texts(client):
    script = client.get("/widget.js").text
    assert '"refused": "clbp-chat: this page\'s origin ({origin})' in script
    assert '"allowed": []' in script and "/*CLBP_CONFIG*/" not in script
    demo = client.get("/embed-demo").text
    assert "Allowed now: none yet." in demo and "may not show the chat" in demo
