"""The Gradio chat UI, laid out like a chat app: a header naming the clinic, one scrolling message
list, the question box pinned at the bottom, the disclaimer under it.

The same UI serves the full page (``/``) and the widget's iframe (``/embed``). Every text comes from
``messages.yaml``; the page's behaviour (citation links, Escape in the widget, an empty submit) is
in ``static/chat.js``, its layout in ``static/chat.css``. Fonts are the system's, so the page loads
nothing from a third-party host.
"""

from __future__ import annotations

import html
import sys
from pathlib import Path

import anyio
import gradio as gr

from clbp_chat.errors import InvalidQuestion
from clbp_chat.messages import messages
from clbp_chat.records import Answer
from clbp_chat.web.api import record_feedback
from clbp_chat.web.render import ReplyRenderer, tel_links
from clbp_chat.web.security import client_of, summary
from clbp_chat.web.state import EngineState

STATIC = Path(__file__).with_name("static")
CSS_PATH = STATIC / "chat.css"
HEAD = "<script>\n" + (STATIC / "chat.js").read_text(encoding="utf-8") + "</script>"
SYSTEM_FONTS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"]
THEME = gr.themes.Soft(
    primary_hue="teal",
    font=SYSTEM_FONTS,
    font_mono=["ui-monospace", "Menlo", "Consolas", "monospace"],
).set(
    # WCAG AA contrast for small label text (the default teal on pale teal is 2.2:1).
    block_label_text_color="*neutral_800",
    block_info_text_color="*neutral_800",
    block_title_text_color="*neutral_800",
)
# After an answer: bring its first line into view (not the end of its source list).
SCROLL_TO_ANSWER = "() => window.clbpChat && window.clbpChat.showLatestAnswer()"
FOCUS_QUESTION = "() => window.clbpChat && window.clbpChat.focusQuestion()"
# Replies that are not rated: a rating under an emergency or a crisis reply would ask a person in
# danger to judge the advice to get help.
UNRATED_CATEGORIES = {"emergency", "urgent", "crisis"}


def rateable(result: Answer) -> bool:
    return not (result.outcome == "safety" and result.safety_category in UNRATED_CATEGORIES)


def header_html(texts: dict[str, object]) -> str:
    return (
        f'<div class="clbp-heading"><h1>{html.escape(str(texts["header_title"]))}</h1>'
        f"<p>{html.escape(str(texts['header_subtitle']))}</p></div>"
    )


def build_ui(state: EngineState, *, embed: bool) -> gr.Blocks:
    """The chat. Only text travels from the browser: the conversation so far lives in server-side
    session state (``gr.State``), and the chat window is output only. A chat history sent by the
    client is never read, so a file item in it cannot make Gradio copy a server file (the
    file-read hole of issue 16)."""
    settings = state.settings
    texts = messages(settings)
    numbers = [settings.emergency_number, settings.urgent_line, settings.crisis_line]
    renderer = ReplyRenderer(texts, numbers, lambda: state.engine.index.manifest)

    async def respond(
        question: str, turns: list[dict], shown: list[dict], rated: dict, request: gr.Request
    ) -> tuple:
        turns, shown, rated = list(turns or []), list(shown or []), dict(rated or {})
        question = question if isinstance(question, str) else ""
        if not question.strip():  # an empty submit changes nothing (the page keeps the focus)
            return tuple(gr.skip() for _ in range(6))
        shown.append({"role": "user", "content": question})
        started = gr.update(visible=False)
        try:
            # Triage first, in its own threads: a warning sign never waits on the index, the
            # store or the rate limit.
            triaged = await state.triage(question, turns[-settings.max_history_turns :])
            if triaged.reply is not None:
                result = triaged.reply
            elif not state.limiter.allow(client_of(settings, request)):
                shown.append({"role": "assistant", "content": renderer.notice("rate_limited")})
                return "", shown, turns, shown, rated, started
            else:
                result = await anyio.to_thread.run_sync(_library, triaged)
        except InvalidQuestion:
            shown.append({"role": "assistant", "content": renderer.notice("invalid_question")})
            return "", shown, turns, shown, rated, started
        except Exception as exc:  # noqa: BLE001 - the patient gets one friendly line, never a trace
            print(summary(exc), file=sys.stderr)
            shown.append({"role": "assistant", "content": renderer.notice("unavailable")})
            return "", shown, turns, shown, rated, started
        # One update, not a word-by-word stream: the chat's live region then announces each answer
        # once to a screen reader. Only the most recent turns are kept, within the history limit.
        turns = [
            *turns,
            {"role": "user", "content": result.question},
            {"role": "assistant", "content": result.answer},
        ][-settings.max_history_turns :]
        shown.append(
            {"role": "assistant", "content": renderer.reply(result, rateable=rateable(result))}
        )
        if rateable(result):
            rated[str(len(shown) - 1)] = {
                "answer_id": result.answer_id,
                "outcome": result.outcome,
                "doc_ids": list(dict.fromkeys(c.doc_id for c in result.citations)),
            }
        state.issued(result.answer_id)
        return "", shown, turns, shown, rated, started

    def _library(triaged):
        if not state.ready:
            state.load()
        return state.engine.from_library(triaged)

    def feedback(data: gr.LikeData, rated: dict, request: gr.Request) -> None:
        if not state.limiter.allow(client_of(settings, request)):
            return
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        answer = (rated or {}).get(str(index))
        if not answer:  # only answers this session was given (and that take a rating) count
            return
        try:
            record_feedback(
                state,
                "up" if data.liked else "down",
                answer.get("outcome"),
                answer.get("doc_ids", []),
                answer.get("answer_id"),
            )
        except OSError:
            gr.Warning(str(texts["feedback_failed"]))

    def new_chat() -> tuple:
        return "", [], [], [], {}, gr.update(visible=True)

    with gr.Blocks(title=str(texts["page_title"]), analytics_enabled=False, fill_height=True) as ui:
        with gr.Column(elem_id="clbp-app"):
            with gr.Row(elem_id="clbp-header", equal_height=True):
                gr.HTML(header_html(texts), elem_id="clbp-heading")
                restart = gr.Button(
                    str(texts["new_chat"]), size="sm", variant="secondary", elem_id="clbp-new"
                )
            chatbot = gr.Chatbot(
                label=str(texts["chat_label"]),
                show_label=False,
                height="100%",
                placeholder=str(texts["chat_placeholder"]),
                feedback_options=("Like", "Dislike"),
                buttons=["copy"],
                elem_id="clbp-chat",
                layout="panel",
                # The page scrolls to the start of each new answer instead (SCROLL_TO_ANSWER).
                autoscroll=False,
                scale=1,
            )
            with gr.Column(elem_id="clbp-start") as start:
                if settings.log_questions:
                    gr.Markdown(str(texts["logging_notice"]), elem_id="clbp-logging")
                with gr.Row(elem_id="clbp-starters"):
                    starters = [
                        gr.Button(q, size="sm", variant="secondary", elem_classes="clbp-starter")
                        for q in texts["examples"]
                    ]
            box = gr.Textbox(
                label=str(texts["question_label"]),
                placeholder=str(texts["question_placeholder"]),
                submit_btn=str(texts["ask_button"]),
                max_length=settings.max_question_chars,
                elem_id="clbp-question",
                autofocus=not embed,
                lines=1,
                max_lines=4,
            )
            gr.Markdown(tel_links(str(texts["disclaimer"])), elem_id="clbp-disclaimer")
        turns, shown, rated = gr.State([]), gr.State([]), gr.State({})
        outputs = [box, chatbot, turns, shown, rated, start]
        # No Gradio concurrency cap on the chat: a warning sign must not queue behind answers that
        # wait on the store. Triage has its own threads; the library's thread pool bounds the rest.
        for trigger, source in ((box.submit, box), *((b.click, b) for b in starters)):
            trigger(respond, [source, turns, shown, rated], outputs, concurrency_limit=None).then(
                None, None, None, js=SCROLL_TO_ANSWER
            )
        restart.click(new_chat, None, outputs).then(None, None, None, js=FOCUS_QUESTION)
        chatbot.like(feedback, [rated], None)
    return ui
