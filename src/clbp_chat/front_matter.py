"""Read a corpus file's YAML front matter, keeping the line of every field for error messages.

Clinic staff edit these files in whatever editor they have: a UTF-8 byte-order mark and blank lines
before the first ``---`` are accepted, and every error names the line to look at and how to fix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from clbp_chat.errors import CorpusError

_BLANK_LINES = re.compile(r"\A(?:[ \t]*\n)*")
_FENCE = re.compile(r"^---[ \t]*$", re.M)
# A value that opens a quote: `key: "…`, `- '…`, or inside a flow list `[a, "…`.
_OPENS_QUOTE = re.compile(r"""(?:^\s*(?:-\s+)?[^#"'\s][^:#]*:\s+|^\s*-\s+|[\[,]\s*)(["'])""")


@dataclass(frozen=True)
class FrontMatter:
    """The parsed fields, the body after the closing ``---``, and where things are in the file."""

    meta: dict
    body: str
    first_line: int
    last_line: int
    # Line of each top-level field, and of each key under a mapping field ("questions").
    lines: dict[str, int] = field(default_factory=dict)
    nested: dict[str, dict[str, int]] = field(default_factory=dict)

    def line(self, key: str) -> int:
        """Where a field is, or the front matter's first line when it is missing."""
        return self.lines.get(key, self.first_line)


def read_text(path: Path) -> str:
    """The file's text without a byte-order mark and with Unix line ends."""
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"{path.name}: is not UTF-8 text (byte {exc.start}); save it as UTF-8 in your editor"
        ) from None
    except OSError as exc:
        raise CorpusError(f"{path.name}: cannot read file ({exc.strerror})") from None
    return raw.replace("\r\n", "\n").replace("\r", "\n")


def parse_front_matter(path: Path) -> FrontMatter:
    """Split and parse the front matter; :class:`CorpusError` names the file and the line."""
    name = path.name
    text = read_text(path)
    blank = _BLANK_LINES.match(text).group(0)
    text = text[len(blank) :]
    first = blank.count("\n") + 1
    opening = _FENCE.match(text)
    if opening is None:
        raise CorpusError(
            f"{name}: line {first} should be '---', the start of the front matter; a document "
            "begins with '---', then its fields (id, type, title, short_name), then '---'"
        )
    start = opening.end() + 1
    closing = _FENCE.search(text, start)
    if closing is None:
        raise CorpusError(
            f"{name}: the front matter opened on line {first} is never closed; "
            "add a line '---' after the last field"
        )
    source = text[start : closing.start()]
    last = first + text[: closing.start()].count("\n")
    meta = _load(name, source, first + 1)
    if not isinstance(meta, dict):
        raise CorpusError(
            f"{name}: the front matter (lines {first}-{last}) must be fields written "
            "'field: value', one a line"
        )
    lines, nested = _key_lines(name, source, first + 1)
    return FrontMatter(meta, text[closing.end() :].strip(), first, last, lines, nested)


def _load(name: str, source: str, offset: int) -> object:
    try:
        return yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = mark.line if mark else source.count("\n")
        quote = _unclosed_quote(source, where)
        if quote is not None:
            raise CorpusError(
                f"{name}: the quote opened on line {quote + offset} is never closed; end the "
                "value with the same quote mark on that line"
            ) from None
        context = getattr(exc, "context_mark", None)
        opened = str(getattr(exc, "context", ""))
        if context is not None and "flow" in opened:
            kind, end = ("list", "]") if "sequence" in opened else ("mapping", "}")
            raise CorpusError(
                f"{name}: the {kind} opened on line {context.line + offset} is never closed; "
                f"end it with '{end}' on that line"
            ) from None
        problem = getattr(exc, "problem", None) or "cannot be read"
        raise CorpusError(
            f"{name}: front matter is not valid YAML at line {where + offset} ({problem}); "
            "check the indentation and that each field is written 'field: value'"
        ) from None


def _unclosed_quote(source: str, upto: int) -> int | None:
    """The first line, up to the one YAML stumbled on, whose quoted value does not end on it."""
    for number, line in enumerate(source.split("\n")[: upto + 1]):
        for opened in _OPENS_QUOTE.finditer(line):
            mark = opened.group(1)
            rest = line[opened.end() :]
            rest = rest.replace('\\"', "") if mark == '"' else rest.replace("''", "")
            if mark not in rest:
                return number
    return None


def _key_lines(
    name: str, source: str, offset: int
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Where each field is; a field written twice is an error (YAML would keep the last one
    and drop the first without a word)."""
    node = yaml.compose(source)
    if not isinstance(node, yaml.MappingNode):
        return {}, {}
    lines = mapping_lines(name, node, offset)
    nested = {
        str(key.value): mapping_lines(name, value, offset)
        for key, value in node.value
        if isinstance(value, yaml.MappingNode)
    }
    return lines, nested


def mapping_lines(name: str, node: yaml.MappingNode, offset: int) -> dict[str, int]:
    """Line of each key of a YAML mapping; a key written twice is a :class:`CorpusError`."""
    lines: dict[str, int] = {}
    for key, _ in node.value:
        line = key.start_mark.line + offset
        if str(key.value) in lines:
            raise CorpusError(
                f"{name}: '{key.value}' is written twice, on lines {lines[str(key.value)]} and "
                f"{line}; keep one and put everything under it"
            )
        lines[str(key.value)] = line
    return lines
