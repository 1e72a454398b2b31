"""Reader and writer of a manifest stream: bytes in, documents with their exact text out.

The split is lexical, so a document that no rule touches can be written back byte for
byte. A document boundary is a ``---`` marker at column 0 (followed by whitespace or the
end of the line), which is also where YAML itself forbids any scalar to continue; lines
of dashes inside indented block scalars are content. Comment, blank and directive lines
that precede a marker belong to the document that the marker opens, as they do for a YAML
parser; a ``...`` end marker closes a document. A UTF-8 byte order mark at the start of the
stream is part of the first document's text (so it is written back) but never hides a marker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any, Iterator

_EMPTY_MARKER = re.compile(r"(?:---|\.\.\.)[ \t\r]*(?:#.*)?$")
_BLANK = re.compile(r"\ufeff?[ \t\r]*(?:#.*)?$")
_TRIVIA = re.compile(r"\ufeff?(?:[ \t\r]*(?:#.*)?$|%)")
BOM = "\ufeff"

UNPARSED: Any = object()


@dataclass(slots=True)  # a stream may hold very many (empty) documents: keep each small
class Document:
    """One document of the stream: its position, exact text and (once parsed) its data."""

    index: int  # 1-based position in the stream
    line: int  # 1-based line of the document's first line in the stream
    text: str  # exact text, separator and leading comments included
    data: Any = field(default=UNPARSED, repr=False)
    changed: bool = False
    # id(collection) -> parse.SourceForms: how non-canonical scalars were written (for emit)
    source_forms: dict[int, Any] | None = field(default=None, repr=False)

    @property
    def blank(self) -> bool:
        """Only separators, end markers, directives, comments and blank lines: nothing to parse."""
        return all(_BLANK.match(raw) or _EMPTY_MARKER.match(raw.lstrip(BOM)) for raw in self.text.split("\n"))

    @property
    def content_offset(self) -> int | None:
        """Index (in ``text.split("\\n")``) of the first line with content, after the separator,
        comment, directive and blank lines that lead the document; a ``---`` line with content
        after the marker (``--- {a: 1}``) counts as content. None for a document without any."""
        for offset, raw in enumerate(self.text.split("\n")):
            if not (_TRIVIA.match(raw) or _EMPTY_MARKER.match(raw.lstrip(BOM))):
                return offset
        return None

    @property
    def content_line(self) -> int:
        """Stream line of the first line with content (the document's first line if none)."""
        offset = self.content_offset
        return self.line + (offset or 0)


_BOUNDARY = re.compile(r"\n\ufeff?(?:(---)|\.\.\.)(?=[ \t\r\n]|$)")  # a literal first character: fast
_FIRST_BOUNDARY = re.compile(r"\ufeff?(?:(---)|\.\.\.)(?=[ \t\r\n]|$)")
_CONTENT_LINE = re.compile(r"^(?!\ufeff?[ \t\r]*(?:#[^\n]*)?$|\ufeff?%)", re.MULTILINE)


def split(text: str) -> list[Document]:
    """Split a stream into documents whose texts concatenate back to the input exactly.

    One regular-expression pass finds the marker lines; the text between them is sliced, not
    walked line by line, so splitting costs little next to parsing even for large streams.
    """
    documents: list[Document] = []
    start = 0  # where the current document's text starts
    line = 1  # its first line
    opened = False  # it holds a marker or content already, so the next marker ends it

    def close(end: int) -> None:
        nonlocal start, line
        if end > start:
            documents.append(Document(len(documents) + 1, line, text[start:end]))
            line += text.count("\n", start, end)
        start = end

    for at, end, is_marker in _boundaries(text):
        if is_marker:  # ``---``
            if opened or _CONTENT_LINE.search(text, start, at):
                close(at)
            opened = True
        else:  # ``...`` closes the document after its line
            eol = text.find("\n", end)
            close(len(text) if eol < 0 else eol + 1)
            opened = False
    close(len(text))
    return documents


def _boundaries(text: str) -> Iterator[tuple[int, int, bool]]:
    """(line start, end of the marker, whether it is ``---``) of every marker line, in order."""
    first = _FIRST_BOUNDARY.match(text)
    if first:
        yield 0, first.end(), bool(first.group(1))
    for found in _BOUNDARY.finditer(text):
        at = found.start() + 1  # the line starts after the newline
        if text[at] == BOM:
            continue  # a byte order mark only counts at the start of the stream
        yield at, found.end(), bool(found.group(1))
