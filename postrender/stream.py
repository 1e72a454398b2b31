"""Reader and writer of a manifest stream: bytes in, documents with their exact text out.

The split is lexical, so a document that no rule touches can be written back byte for
byte. A document boundary is a ``---`` marker at column 0 (followed by whitespace or the
end of the line), which is also where YAML itself forbids any scalar to continue; lines
of dashes inside indented block scalars are content. Comment, blank and directive lines
that precede a marker belong to the document that the marker opens, as they do for a YAML
parser; a ``...`` end marker closes a document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from postrender.errors import Location, PostRenderError, error

_MARKER = re.compile(r"---(?:[ \t\r]|$)")
_END = re.compile(r"\.\.\.(?:[ \t\r]|$)")
_TRIVIA = re.compile(r"[ \t\r]*(?:#.*)?$|%")

UNPARSED: Any = object()


@dataclass
class Document:
    """One document of the stream: its position, exact text and (once parsed) its data."""

    index: int  # 1-based position in the stream
    line: int  # 1-based line of the document's first line in the stream
    text: str  # exact text, separator and leading comments included
    data: Any = field(default=UNPARSED, repr=False)
    changed: bool = False

    @property
    def content_line(self) -> int:
        """Stream line of the first line that is not a separator, comment or blank."""
        for offset, raw in enumerate(self.text.split("\n")):
            if not _TRIVIA.match(raw) and not _MARKER.match(raw):
                return self.line + offset
        return self.line


def decode(raw: bytes) -> str:
    """Decode the stream as UTF-8, refusing other bytes with the line they sit on."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise PostRenderError(
            [error(f"input is not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}",
                   Location(file="<stdin>", line=line))]
        ) from None


def split(text: str) -> list[Document]:
    """Split a stream into documents whose texts concatenate back to the input exactly."""
    documents: list[Document] = []
    chunk: list[str] = []
    chunk_line = 1
    opened = False  # the current chunk holds a marker or content, so a marker ends it

    def close(next_line: int) -> None:
        nonlocal chunk, chunk_line, opened
        if chunk:
            documents.append(Document(len(documents) + 1, chunk_line, "".join(chunk)))
        chunk, chunk_line, opened = [], next_line, False

    lines = _lines(text)
    for number, line in enumerate(lines, 1):
        if line.startswith("---") and _MARKER.match(line):
            if opened:
                close(number)
            chunk.append(line)
            opened = True
            continue
        chunk.append(line)
        if line.startswith("...") and _END.match(line):
            close(number + 1)
            continue
        if not opened and not _TRIVIA.match(line):
            opened = True
    close(len(lines) + 1)
    return documents


def _lines(text: str) -> list[str]:
    """Lines with their endings; only ``\\n`` ends a line (``\\r`` stays in the line)."""
    if not text:
        return []
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def join(texts: list[str]) -> str:
    return "".join(texts)
