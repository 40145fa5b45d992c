"""The Gradio chat UI: streamed answers, citations one click away, starter questions, feedback.

The same UI serves the full page (``/``) and the widget's iframe (``/embed``, without the header).
Fonts are the system's, so the page loads nothing from a third-party host.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import gradio as gr

from clbp_chat.errors import ClbpError, InvalidQuestion
from clbp_chat.messages import messages
from clbp_chat.types import Answer
from clbp_chat.web.api import record_feedback
from clbp_chat.web.state import EngineState

SYSTEM_FONTS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"]
THEME = gr.themes.Soft(
    primary_hue="teal",
    font=SYSTEM_FONTS,
    font_mono=["ui-monospace", "Menlo", "Consolas", "monospace"],
)
UI_CSS = """
.gradio-container { max-width: 820px !important; margin: 0 auto !important; }
#clbp-disclaimer { font-size: 0.9rem; padding: 0.5rem 0.75rem; border-radius: 8px;
  background: var(--block-background-fill); border: 1px solid var(--border-color-primary); }
@media (max-width: 480px) { .gradio-container { padding: 4px !important; } }
"""
STREAM_WORDS = 4
STREAM_PAUSE = 0.01
OUTCOME_KEY = "clbp_outcome"


def citation_messages(result: Answer) -> list[dict]:
    """One collapsed message per source: the exact passage and a link to the paper."""
    out = []
    for c in result.citations:
        link = f"\n\n[Open the paper]({c.source})" if c.source else ""
        quote = "\n".join(f"> {line}" for line in c.quote.splitlines())
        out.append(
            {
                "role": "assistant",
                "content": f"**{c.title}** — {c.section}\n\n{quote}{link}",
                "metadata": {"title": f"[{c.n}] {c.title} — {c.section}", "status": "done"},
            }
        )
    return out


def history_of(chat: list[dict]) -> list[dict[str, str]]:
    """The conversation as the library wants it: user and answer texts, not the source panels."""
    turns = []
    for message in chat:
        if (message.get("metadata") or {}).get("title"):
            continue
        content = message.get("content")
        if isinstance(content, str) and message.get("role") in ("user", "assistant"):
            turns.append({"role": message["role"], "content": content})
    return turns


def build_ui(state: EngineState, *, embed: bool) -> gr.Blocks:
    texts = messages(state.settings)
    examples = [{"text": q} for q in texts["examples"]]

    def respond(question: str, chat: list[dict]) -> Iterator[tuple[str, list[dict]]]:
        chat = list(chat or [])
        history = history_of(chat)
        chat.append({"role": "user", "content": question})
        if not state.ready:
            state.load()
        try:
            result = state.engine.answer(question, history)
        except InvalidQuestion as exc:
            chat.append({"role": "assistant", "content": f"Sorry: {exc}."})
            yield "", chat
            return
        except ClbpError as exc:
            chat.append({"role": "assistant", "content": f"The assistant is unavailable: {exc}"})
            yield "", chat
            return
        words = result.answer.split(" ")
        chat.append({"role": "assistant", "content": ""})
        for end in range(STREAM_WORDS, len(words) + STREAM_WORDS, STREAM_WORDS):
            chat[-1] = {"role": "assistant", "content": " ".join(words[:end])}
            yield "", chat
            time.sleep(STREAM_PAUSE)
        chat[-1] = {"role": "assistant", "content": result.answer}
        yield "", chat + citation_messages(result)

    def pick_example(data: gr.SelectData, chat: list[dict]) -> Iterator[tuple[str, list[dict]]]:
        yield from respond(data.value["text"], chat)

    def feedback(data: gr.LikeData, chat: list[dict]) -> None:
        rating = "up" if data.liked else "down"
        record_feedback(state, rating, None, [])

    with gr.Blocks(
        title="Stem cells for back pain: what the studies say", analytics_enabled=False
    ) as ui:
        if not embed:
            gr.Markdown(
                "# Stem-cell therapy for chronic low back pain\n"
                "Ask what the clinic's summary and the four studies it cites say. "
                "Every sentence links to its source."
            )
        gr.Markdown(str(texts["disclaimer"]), elem_id="clbp-disclaimer")
        chatbot = gr.Chatbot(
            label="Conversation",
            height="70vh" if embed else 520,
            examples=examples,
            placeholder="Ask a question about stem-cell therapy for back pain, "
            "or pick one of the examples below.",
            feedback_options=("Like", "Dislike"),
            buttons=["copy"],
            elem_id="clbp-chat",
            autoscroll=True,
        )
        box = gr.Textbox(
            label="Your question",
            placeholder="Type your question and press Enter",
            submit_btn="Ask",
            max_length=state.settings.max_question_chars,
            elem_id="clbp-question",
            autofocus=not embed,
        )
        box.submit(respond, [box, chatbot], [box, chatbot])
        chatbot.example_select(pick_example, [chatbot], [box, chatbot])
        chatbot.like(feedback, [chatbot], None)
    return ui
