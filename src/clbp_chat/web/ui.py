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
from typing import TYPE_CHECKING

import anyio
import gradio as gr

from clbp_chat.errors import InvalidQuestion
from clbp_chat.messages import messages
from clbp_chat.records import Answer
from clbp_chat.web.api import record_feedback
from clbp_chat.web.render import ReplyRenderer, tel_links
from clbp_chat.web.security import client_of, summary
from clbp_chat.web.state import EngineState

if TYPE_CHECKING:
    from clbp_chat.config import Settings

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
    chat = Chat(state)
    texts = chat.texts
    with gr.Blocks(title=str(texts["page_title"]), analytics_enabled=False, fill_height=True) as ui:
        with gr.Column(elem_id="clbp-app"):
            restart = _header(texts)
            chatbot = _chat_window(texts)
            start, starters = _start(state.settings, texts)
            box = _question_box(state.settings, texts, embed)
            gr.Markdown(tel_links(str(texts["disclaimer"])), elem_id="clbp-disclaimer")
        turns, shown, rated = gr.State([]), gr.State([]), gr.State({})
        outputs = [box, chatbot, turns, shown, rated, start]
        # No Gradio concurrency cap on the chat: a warning sign must not queue behind answers that
        # wait on the store. Triage has its own threads; the library's thread pool bounds the rest.
        for trigger, source in ((box.submit, box), *((b.click, b) for b in starters)):
            trigger(
                chat.respond, [source, turns, shown, rated], outputs, concurrency_limit=None
            ).then(None, None, None, js=SCROLL_TO_ANSWER)
        restart.click(chat.new_chat, None, outputs).then(None, None, None, js=FOCUS_QUESTION)
        chatbot.like(chat.feedback, [rated], None)
    return ui


class Chat:
    """What the chat's events do: answer a question, store a rating, start again."""

    def __init__(self, state: EngineState) -> None:
        self.state = state
        self.settings = state.settings
        self.texts = messages(self.settings)
        numbers = [
            self.settings.emergency_number,
            self.settings.urgent_line,
            self.settings.crisis_line,
        ]
        self.renderer = ReplyRenderer(self.texts, numbers, lambda: state.engine.index.manifest)

    async def respond(
        self, question: str, turns: list[dict], shown: list[dict], rated: dict, request: gr.Request
    ) -> tuple:
        turns, shown, rated = list(turns or []), list(shown or []), dict(rated or {})
        question = question if isinstance(question, str) else ""
        if not question.strip():  # an empty submit changes nothing (the page keeps the focus)
            return tuple(gr.skip() for _ in range(6))
        shown.append({"role": "user", "content": question})
        started = gr.update(visible=False)
        result = await self._answer(question, turns, request)
        if isinstance(result, str):  # a notice instead of an answer
            shown.append({"role": "assistant", "content": self.renderer.notice(result)})
            return "", shown, turns, shown, rated, started
        # One update, not a word-by-word stream: the chat's live region then announces each answer
        # once to a screen reader. Only the most recent turns are kept, within the history limit.
        turns = [
            *turns,
            {"role": "user", "content": result.question},
            {"role": "assistant", "content": result.answer},
        ][-self.settings.max_history_turns :]
        shown.append(
            {"role": "assistant", "content": self.renderer.reply(result, rateable=rateable(result))}
        )
        if rateable(result):
            rated[str(len(shown) - 1)] = {
                "answer_id": result.answer_id,
                "outcome": result.outcome,
                "doc_ids": list(dict.fromkeys(c.doc_id for c in result.citations)),
            }
        self.state.issued(result.answer_id)
        return "", shown, turns, shown, rated, started

    async def _answer(self, question: str, turns: list[dict], request: gr.Request) -> Answer | str:
        """The answer, or the key of the notice to show instead."""
        state = self.state
        try:
            # Triage first, in its own threads: a warning sign never waits on the index, the
            # store or the rate limit.
            triaged = await state.triage(question, turns[-self.settings.max_history_turns :])
            if triaged.reply is not None:
                return triaged.reply
            if not state.limiter.allow(client_of(self.settings, request)):
                return "rate_limited"
            return await anyio.to_thread.run_sync(self._library, triaged)
        except InvalidQuestion:
            return "invalid_question"
        except Exception as exc:  # noqa: BLE001 - the patient gets one friendly line, never a trace
            print(summary(exc), file=sys.stderr)
            return "unavailable"

    def _library(self, triaged) -> Answer:
        if not self.state.ready:
            self.state.load()
        return self.state.engine.from_library(triaged)

    def feedback(self, data: gr.LikeData, rated: dict, request: gr.Request) -> None:
        if not self.state.limiter.allow(client_of(self.settings, request)):
            return
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        answer = (rated or {}).get(str(index))
        if not answer:  # only answers this session was given (and that take a rating) count
            return
        try:
            record_feedback(
                self.state,
                "up" if data.liked else "down",
                answer.get("outcome"),
                answer.get("doc_ids", []),
                answer.get("answer_id"),
            )
        except OSError:
            gr.Warning(str(self.texts["feedback_failed"]))

    def new_chat(self) -> tuple:
        return "", [], [], [], {}, gr.update(visible=True)


def _header(texts: dict[str, object]) -> gr.Button:
    """The clinic's name and what the assistant is; returns the New chat button."""
    with gr.Row(elem_id="clbp-header", equal_height=True):
        gr.HTML(header_html(texts), elem_id="clbp-heading")
        return gr.Button(str(texts["new_chat"]), size="sm", variant="secondary", elem_id="clbp-new")


def _chat_window(texts: dict[str, object]) -> gr.Chatbot:
    return gr.Chatbot(
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


def _start(settings: Settings, texts: dict[str, object]) -> tuple[gr.Column, list[gr.Button]]:
    """What shows until the first question: the logging notice (when on) and starter questions."""
    with gr.Column(elem_id="clbp-start") as start:
        if settings.log_questions:
            gr.Markdown(str(texts["logging_notice"]), elem_id="clbp-logging")
        with gr.Row(elem_id="clbp-starters"):
            starters = [
                gr.Button(q, size="sm", variant="secondary", elem_classes="clbp-starter")
                for q in texts["examples"]
            ]
    return start, starters


def _question_box(settings: Settings, texts: dict[str, object], embed: bool) -> gr.Textbox:
    return gr.Textbox(
        label=str(texts["question_label"]),
        placeholder=str(texts["question_placeholder"]),
        submit_btn=str(texts["ask_button"]),
        max_length=settings.max_question_chars,
        elem_id="clbp-question",
        autofocus=not embed,
        lines=1,
        max_lines=4,
    )
