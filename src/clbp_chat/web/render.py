"""How a reply looks in the chat: each ``[n]`` a link to its source entry, each source labelled by
study and section with a link a patient can follow, and the numbers to call as tap-to-call links.

The answer text itself (what ``ask --json`` and the API return) stays plain: only the chat adds links.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from clbp_chat.records import Answer, Citation

CITE_MARK = re.compile(r"\[(\d+)\]")
# A run of digits, perhaps with single spaces or dashes inside ("116 123", "+44 20 7946 0958"), that
# is not part of an address, a figure ("1.5") or a word.
DIGIT_RUN = re.compile(r"(?<![\w+/.:=#@-])\+?\d+(?:[ -]\d+)*(?![\w/@]|[.,]\d)")
MIN_PHONE_DIGITS = 3
# Marks a reply that takes no rating (safety replies and errors); the page's CSS hides its buttons.
NO_RATING = '<span class="clbp-no-rating"></span>'


def short_title(title: str) -> str:
    """'Pettine 2015: the patient's own bone marrow…' -> 'Pettine 2015' (the list stays compact)."""
    return title.split(":")[0].strip()


def section_anchor(section: str) -> str:
    """The id of a section on a library page (``/library/glossary#placebo``)."""
    return re.sub(r"[^a-z0-9]+", "-", section.lower()).strip("-")


def tel_links(text: str) -> str:
    """Every digit run of three or more digits as a ``tel:`` link that never wraps."""

    def link(match: re.Match[str]) -> str:
        number = match.group(0)
        digits = re.sub(r"[^\d+]", "", number)
        if sum(ch.isdigit() for ch in digits) < MIN_PHONE_DIGITS:
            return number
        return f'<a class="clbp-tel" href="tel:{digits}">{number}</a>'

    return DIGIT_RUN.sub(link, text)


def with_numbers_linked(text: str, numbers: list[str]) -> str:
    """``text`` with the digit runs of the clinic's numbers (settings, perhaps prose) linked."""
    for value in sorted(set(numbers), key=len, reverse=True):
        if value and value in text:
            text = text.replace(value, tel_links(value))
    return text


class ReplyRenderer:
    """Turns an :class:`Answer` into the chat's markdown, with this server's texts and library."""

    def __init__(
        self, texts: dict[str, object], numbers: list[str], manifest: Callable[[], dict]
    ) -> None:
        self.texts = texts
        self.numbers = numbers
        self.manifest = manifest  # the live build's: a new ingest may add studies

    def study_name(self, url: str) -> str:
        """'Pettine 2015' for the Pettine study's link."""
        manifest = self.manifest()
        for doc_id, source in manifest.get("sources", {}).items():
            if source == url:
                return short_title(manifest.get("documents", {}).get(doc_id, doc_id))
        return url

    def reply(self, result: Answer, *, rateable: bool) -> str:
        """The whole chat bubble: the answer with linked markers, then its sources."""
        prefix = f"clbp-src-{result.answer_id[:8]}"
        text = (
            with_numbers_linked(result.answer, self.numbers)
            if result.citations
            else tel_links(result.answer)
        )
        text = CITE_MARK.sub(lambda m: self._marker(prefix, m), text)
        if result.citations:
            blocks = "\n".join(self._source(prefix, c) for c in result.citations)
            text += f"\n\n**{self.texts['sources_heading']}**\n{blocks}"
        return text if rateable else text + NO_RATING

    def notice(self, key: str) -> str:
        """A fixed text (an error, the rate limit) as a reply that takes no rating."""
        return tel_links(str(self.texts[key])) + NO_RATING

    def _marker(self, prefix: str, match: re.Match[str]) -> str:
        n = match.group(1)
        return f'<a class="clbp-cite" href="#{prefix}-{n}">[{n}]</a>'

    def _source(self, prefix: str, c: Citation) -> str:
        quote = "\n".join(f"> {line}" for line in c.quote.splitlines() if line.strip())
        summary = f"[{c.n}] {html.escape(short_title(c.title))} · {html.escape(c.section)}"
        return (
            f'<details id="{prefix}-{c.n}" class="clbp-source"><summary>{summary}</summary>\n\n'
            f"{quote}\n\n{self._links(c)}\n\n</details>"
        )

    def _links(self, c: Citation) -> str:
        """The paper; the studies a comparison passage names; or the passage on the library page."""
        if c.source:
            return f"[{self.texts['open_source']}]({c.source})"
        if c.sources:
            named = " · ".join(f"[{html.escape(self.study_name(url))}]({url})" for url in c.sources)
            return f"{self.texts['studies_named']} {named}"
        return f"[{self.texts['open_source']}](/library/{c.doc_id}#{section_anchor(c.section)})"
