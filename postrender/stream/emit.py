"""Write a changed document: its leading comments as they were, then the data re-serialised.

Only documents a rule changed come here; the others are written from their original text.
The dump keeps key order, never wraps a line, and writes multi-line strings as literal
blocks so scripts stay readable. Scalars whose source the loader remembered (``0755``,
``yes``, ``on``, ``~``, an empty value, a timestamp, the quotes of ``"on"`` or the block
style of a script) are written back as they were written,
as long as the value is still the one loaded; YAML anchors and aliases are written expanded
(the loader already gave every alias its own copy). A byte order mark that opened the
stream, and the line endings (CRLF or LF) of the document, are kept.

Every other string is written plain only when each YAML reader of the path reads it back as
that same string (``plain_is_string``): PyYAML, and the Go decoders of kubectl and Helm,
sigs.k8s.io/yaml (yaml.v2 rules, where ``y``, ``n``, ``on`` are booleans and ``1e3``,
``0o17``, ``1_000`` numbers) and kyaml (yaml.v3, YAML 1.2 core). Otherwise it is quoted: a
container named ``1e3`` or an annotation value ``on`` must reach the API server as a string.
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

# Plain scalars that yaml.v2 or yaml.v3 resolve to a boolean, null, merge key or special float
# (their resolve tables), in any letter case: quoting more than Go needs is never wrong.
_GO_WORDS = frozenset({"y", "yes", "n", "no", "true", "false", "on", "off", "~", "null", "", ".nan", ".inf",
                       "+.inf", "-.inf", "<<"})
# After yaml.v2/v3 drop every "_": what strconv.ParseInt/ParseUint(s, 0, 64) and their yamlStyleFloat
# regexp accept (ints with 0x/0o/0b or a leading 0, decimal and exponent floats), and YYYY- dates.
_GO_NUMBER = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)"
                        r"(?:[eE][-+]?[0-9]+)?)|[0-9]{4}-.*", re.DOTALL)
_GO_NUMBER_START = frozenset("0123456789+-.")


def plain_is_string(text: str) -> bool:
    """False when a Go YAML decoder of kubectl or Helm would read the plain scalar ``text`` as
    something else than this string (a number, boolean, null or date): such a string must be
    quoted. PyYAML's own YAML 1.1 rules are applied by its emitter on top of this."""
    if text.lower() in _GO_WORDS:
        return False
    if text[:1] in _GO_NUMBER_START:  # yaml.v2/v3 try numbers and dates only on these first characters
        return _GO_NUMBER.fullmatch(text.replace("_", "")) is None
    return True


class ManifestDumper(_BaseDumper):  # type: ignore[misc]
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
    if "\n" in value.rstrip("\n"):
        style: str | None = "|"  # a block scalar is a string for every reader
    else:
        style = None if plain_is_string(value) else "'"
    return dumper.represent_scalar(_STR, value, style=style)


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
