"""Write a changed document: its leading comments as they were, then the data re-serialised.

Only documents a rule changed come here; the others are written from their original text.
The dump keeps key order, never wraps a line, and writes multi-line strings as literal
blocks so scripts stay readable. Scalars whose source the loader remembered (``0755``,
``yes``, ``on``, ``~``, an empty value, a timestamp, the quotes of ``"on"`` or the block
style of a script) are written back as they were written,
as long as the value is still the one loaded; YAML anchors and aliases are written expanded
(the loader already gave every alias its own copy). A byte order mark that opened the
stream, and the line endings (CRLF or LF) of the document, are kept.
"""

from __future__ import annotations

import io
import re

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from postrender.stream.split import BOM, Document

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any

try:
    _BaseDumper: type = yaml.CSafeDumper
except AttributeError:  # pragma: no cover
    _BaseDumper = yaml.SafeDumper

_NO_WRAP = 2**31 - 1
_END = re.compile(r"\.\.\.[ \t\r]*$")
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_STR = "tag:yaml.org,2002:str"


class ManifestDumper(_BaseDumper):  # type: ignore[misc, valid-type]
    """Safe dumper: literal blocks for multi-line strings, scalars in their source form, no anchors."""

    source_forms: dict[int, Any] = {}  # noqa: RUF012 - replaced per dump by dump_data

    def ignore_aliases(self, data: Any) -> bool:
        return True  # Kubernetes manifests are trees: never write &id001 / *id001

    def _form_node(self, form: tuple[str, str | None]) -> ScalarNode:
        text, style = form
        if style:
            return ScalarNode(_STR, text, style=style)
        return ScalarNode(self.resolve(ScalarNode, text, (True, False)), text, style=None)

    def _source_scalar(self, forms: Any, key: Any, value: Any) -> ScalarNode | None:
        recorded = forms.values.get(key) if forms is not None else None
        if recorded is None or type(recorded[0]) is not type(value) or recorded[0] != value:
            return None
        return self._form_node(recorded[1])

    def represent_source_dict(self, data: dict[Any, Any]) -> MappingNode:
        forms = self.source_forms.get(id(data))
        if forms is not None and forms.container is not data:
            forms = None
        pairs: list[tuple[Any, Any]] = []
        for key, value in data.items():
            key_form = forms.keys.get(key) if forms is not None else None
            key_node = self._form_node(key_form) if key_form is not None else self.represent_data(key)
            value_node = self._source_scalar(forms, key, value) or self.represent_data(value)
            pairs.append((key_node, value_node))
        return MappingNode(_MAP, pairs, flow_style=self.default_flow_style)

    def represent_source_list(self, data: list[Any]) -> SequenceNode:
        forms = self.source_forms.get(id(data))
        if forms is not None and forms.container is not data:
            forms = None
        items = [self._source_scalar(forms, index, value) or self.represent_data(value)
                 for index, value in enumerate(data)]
        return SequenceNode(_SEQ, items, flow_style=self.default_flow_style)


def _represent_str(dumper: Any, value: str) -> Any:
    style = "|" if "\n" in value.rstrip("\n") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


ManifestDumper.add_representer(str, _represent_str)
ManifestDumper.add_representer(dict, ManifestDumper.represent_source_dict)
ManifestDumper.add_representer(list, ManifestDumper.represent_source_list)


def dump_data(data: Any, source_forms: dict[int, Any] | None = None) -> str:
    """YAML text of ``data``: key order kept, no wrapping, remembered scalar forms restored."""
    stream = io.StringIO()
    dumper = ManifestDumper(stream, default_flow_style=False, allow_unicode=True, width=_NO_WRAP, sort_keys=False)
    dumper.source_forms = source_forms or {}
    try:
        dumper.open()
        dumper.represent(data)
        dumper.close()
    finally:
        dumper.dispose()
    return stream.getvalue()


def emit_document(document: Document) -> str:
    """The new text of a changed document, keeping its leading and trailing comments."""
    lines = document.text.split("\n")
    newline = "\r\n" if "\r\n" in document.text else "\n"
    offset = document.content_offset
    body_start = len(lines) if offset is None else offset
    head = "".join(line + "\n" for line in lines[:body_start])
    if document.text.startswith(BOM) and not head.startswith(BOM):
        head = BOM + head
    first = lines[body_start].lstrip(BOM) if body_start < len(lines) else ""
    if first.startswith("---"):
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
    body = dump_data(document.data, document.source_forms)
    if newline != "\n":
        body = body.replace("\n", newline)
    tail = "".join(line.rstrip("\r") + newline for line in suffix)
    return head + body + tail
