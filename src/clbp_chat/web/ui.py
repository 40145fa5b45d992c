"""The Gradio chat UI: answers first, their sources one click away, starter questions, feedback.

The same UI serves the full page (``/``) and the widget's iframe (``/embed``, without the header).
Fonts are the system's, so the page loads nothing from a third-party host.
"""

from __future__ import annotations

import html
import sys
from collections.abc import AsyncIterator

import anyio
import gradio as gr

from clbp_chat.errors import InvalidQuestion
from clbp_chat.messages import messages
from clbp_chat.types import Answer
from clbp_chat.web.api import record_feedback
from clbp_chat.web.security import client_of, summary
from clbp_chat.web.state import EngineState

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
UI_CSS = """
.gradio-container { max-width: 820px !important; margin: 0 auto !important; }
#clbp-disclaimer { font-size: 0.9rem; padding: 0.5rem 0.75rem; border-radius: 8px;
  background: var(--block-background-fill); border: 1px solid var(--border-color-primary); }
#clbp-chat details { margin: 0.25rem 0; }
#clbp-chat summary { cursor: pointer; min-height: 24px; padding: 2px 0; }
#clbp-chat summary:focus-visible { outline: 3px solid #134e4a; outline-offset: 2px; }
#clbp-starters { gap: 6px; }
.clbp-starter { min-height: 32px; }
@media (max-width: 480px) {
  .gradio-container { padding: 2px !important; max-width: 100% !important; }
  .gradio-container > .main, .gradio-container .contain { padding: 0 !important; }
  #clbp-chat .bubble-wrap { padding: 4px !important; }
  #clbp-chat .message-row { margin: 0 !important; padding: 0 !important; }
  #clbp-chat .message { padding: 8px 10px !important; }
}
"""
# Escape inside the widget's frame closes the widget (the host page cannot see keys in a frame).
CLOSE_ON_ESCAPE = """<script>
document.addEventListener('keydown', function (e) {
  if (e.key === 'Escape' && window.parent !== window) {
    window.parent.postMessage({clbp: 'close'}, '*');
  }
});
</script>"""
# After an answer: bring its first line into view (not the end of its source list).
SCROLL_TO_ANSWER = """() => {
  const rows = document.querySelectorAll('#clbp-chat .message-row.bot-row');
  const last = rows[rows.length - 1];
  if (last) last.scrollIntoView({block: 'start', behavior: 'instant'});
}"""


SOURCES_HEADING = "\n\n**Sources**\n"


def short_title(title: str) -> str:
    """'Pettine 2015: the patient's own bone marrow…' -> 'Pettine 2015' (the list stays compact)."""
    return title.split(":")[0].strip()


def with_sources(result: Answer) -> str:
    """The answer, then one collapsed source per citation: native details/summary, so every
    source opens by keyboard and a screen reader names it."""
    if not result.citations:
        return result.answer
    blocks = []
    for c in result.citations:
        quote = "\n".join(f"> {line}" for line in c.quote.splitlines() if line.strip())
        if c.source:
            link = f"\n\n[Open the source]({c.source})"
        else:
            papers = " · ".join(f"[paper {k}]({url})" for k, url in enumerate(c.sources, 1))
            link = f"\n\nThe studies it names: {papers}" if papers else ""
        blocks.append(
            f"<details><summary>[{c.n}] {html.escape(short_title(c.title))} · "
            f"{html.escape(c.section)}</summary>\n\n{quote}{link}\n\n</details>"
        )
    return result.answer + SOURCES_HEADING + "\n".join(blocks)


def build_ui(state: EngineState, *, embed: bool) -> gr.Blocks:
    """The chat. Only text travels from the browser: the conversation so far lives in server-side
    session state (``gr.State``), and the chat window is output only. A chat history sent by the
    client is never read, so a file item in it cannot make Gradio copy a server file (the
    file-read hole of issue 16)."""
    texts = messages(state.settings)

    async def respond(
        question: str, turns: list[dict], shown: list[dict], rated: dict, request: gr.Request
    ) -> AsyncIterator[tuple[str, list[dict], list[dict], list[dict], dict]]:
        turns, shown, rated = list(turns or []), list(shown or []), dict(rated or {})
        question = question if isinstance(question, str) else ""
        if not question.strip():
            yield question, shown, turns, shown, rated  # an empty submit changes nothing
            return
        shown.append({"role": "user", "content": question})
        try:
            # Triage first, in its own threads: a warning sign never waits on the index, the
            # store or the rate limit.
            triaged = await state.triage(question, turns[-state.settings.max_history_turns :])
            if triaged.reply is not None:
                result = triaged.reply
            elif not state.limiter.allow(client_of(state.settings, request)):
                shown.append({"role": "assistant", "content": str(texts["rate_limited"])})
                yield "", shown, turns, shown, rated
                return
            else:
                result = await anyio.to_thread.run_sync(_library, triaged)
        except InvalidQuestion as exc:
            shown.append({"role": "assistant", "content": f"Sorry: {exc}."})
            yield "", shown, turns, shown, rated
            return
        except Exception as exc:  # noqa: BLE001 - the patient gets one friendly line, never a trace
            print(summary(exc), file=sys.stderr)
            shown.append({"role": "assistant", "content": str(texts["unavailable"])})
            yield "", shown, turns, shown, rated
            return
        # One update, not a word-by-word stream: the chat's live region then announces each answer
        # once to a screen reader (answers take milliseconds; streaming was only for show).
        # Only the most recent turns are kept: a long conversation never outgrows the history limit.
        turns = [
            *turns,
            {"role": "user", "content": result.question},
            {"role": "assistant", "content": result.answer},
        ][-state.settings.max_history_turns :]
        shown.append({"role": "assistant", "content": with_sources(result)})
        rated[str(len(shown) - 1)] = {
            "answer_id": result.answer_id,
            "outcome": result.outcome,
            "doc_ids": list(dict.fromkeys(c.doc_id for c in result.citations)),
        }
        state.issued(result.answer_id)
        yield "", shown, turns, shown, rated

    def _library(triaged):
        if not state.ready:
            state.load()
        return state.engine.from_library(triaged)

    def feedback(data: gr.LikeData, rated: dict, request: gr.Request) -> None:
        if not state.limiter.allow(client_of(state.settings, request)):
            return
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        answer = (rated or {}).get(str(index))
        if not answer:  # only answers this session was given can be rated
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
            show_label=False,
            height="62vh" if embed else 520,
            placeholder="Ask a question about stem-cell therapy for back pain, "
            "or pick one of the questions below.",
            feedback_options=("Like", "Dislike"),
            buttons=["copy"],
            elem_id="clbp-chat",
            layout="panel",
            # The page scrolls to the start of each new answer instead (SCROLL_TO_ANSWER).
            autoscroll=False,
        )
        with gr.Row(elem_id="clbp-starters"):
            starters = [
                gr.Button(q, size="sm", variant="secondary", elem_classes="clbp-starter")
                for q in texts["examples"]
            ]
        box = gr.Textbox(
            label="Your question",
            placeholder="Type your question and press Enter",
            submit_btn="Ask",
            max_length=state.settings.max_question_chars,
            elem_id="clbp-question",
            autofocus=not embed,
        )
        turns, shown, rated = gr.State([]), gr.State([]), gr.State({})
        outputs = [box, chatbot, turns, shown, rated]
        # No Gradio concurrency cap on the chat: a warning sign must not queue behind answers that
        # wait on the store. Triage has its own threads; the library's thread pool bounds the rest.
        box.submit(respond, [box, turns, shown, rated], outputs, concurrency_limit=None).then(
            None, None, None, js=SCROLL_TO_ANSWER
        )
        for button in starters:
            button.click(
                respond, [button, turns, shown, rated], outputs, concurrency_limit=None
            ).then(None, None, None, js=SCROLL_TO_ANSWER)
        chatbot.like(feedback, [rated], None)
    return ui
