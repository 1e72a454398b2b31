"""Write a changed document: its leading comments as they were, then the data re-serialised.

Only documents a rule changed come here; the others are written from their original text.
The dump keeps key order, never wraps a line, and writes multi-line strings as literal
blocks so scripts stay readable.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from postrender.stream import Document

try:
    _BaseDumper: type = yaml.CSafeDumper
except AttributeError:  # pragma: no cover
    _BaseDumper = yaml.SafeDumper

_NO_WRAP = 2**31 - 1
_MARKER = re.compile(r"---(?:[ \t\r]*(?:#.*)?)$")
_TRIVIA = re.compile(r"\ufeff?[ \t\r]*(?:#.*)?$|%")
_END = re.compile(r"\.\.\.[ \t\r]*$")


class ManifestDumper(_BaseDumper):  # type: ignore[misc, valid-type]
    """Safe dumper with literal blocks for multi-line strings."""


def _represent_str(dumper: Any, value: str) -> Any:
    style = "|" if "\n" in value.rstrip("\n") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


ManifestDumper.add_representer(str, _represent_str)


def dump_data(data: Any) -> str:
    return yaml.dump(data, Dumper=ManifestDumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=_NO_WRAP)


def emit_document(document: Document) -> str:
    """The new text of a changed document, keeping its leading and trailing comments."""
    lines = document.text.split("\n")
    newline = "\r\n" if "\r\n" in document.text else "\n"
    body_start = next((n for n, line in enumerate(lines) if not (_TRIVIA.match(line) or _MARKER.match(line))),
                      len(lines))
    head = "".join(line + "\n" for line in lines[:body_start])
    if lines[body_start:body_start + 1] and lines[body_start].startswith("---"):
        head += "---" + newline  # a marker with content on its line (``--- {...}``): keep the marker
    suffix: list[str] = []
    for line in reversed(lines[body_start:]):
        if not (line.startswith("#") or _END.match(line) or not line.strip()):
            break
        suffix.insert(0, line)
    while suffix and not suffix[0].strip():
        suffix.pop(0)
    while suffix and not suffix[-1].strip():
        suffix.pop()
    body = dump_data(document.data)
    if newline != "\n":
        body = body.replace("\n", newline)
    tail = "".join(line.rstrip("\r") + newline for line in suffix)
    return head + body + tail
