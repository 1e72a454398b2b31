"""Parse one document's text with safe loading only (libyaml's C loader when present).

Only the standard YAML tags are constructed (no ``!!python/...``); a parse failure is a
located problem, not an exception that escapes to the user.

Hostile structure is refused *before* anything is built: a pass over libyaml's event stream
(iterative, cheap) measures the nesting depth and what every alias would expand to, with
the size of each anchor memoised, so a "billion laughs" document is refused after a few
hundred events and an alias to an anchor that is still open (a recursive structure) is
refused outright. The pass runs only when the text could hold an anchor or could be nested
deeper than the limit, which the count of indicator characters bounds from above.

The loader also remembers the source text of scalars that a re-serialisation would write
differently (``0755``, ``0x1F``, ``yes``, ``on``, ``~``, an empty value, timestamps...) and
the style of quoted and block strings (``"on"``, ``'0755'``, ``>-``): a changed document is
dumped again, and ``emit`` writes those scalars back as they were. The
values themselves stay plain Python values (``True``, ``493``, ``None``), so matching and
merging see exactly what any YAML 1.1 reader sees. Duplicate keys are refused: in a changed
document one of the two values would be lost, and Kubernetes refuses them anyway.
"""

from __future__ import annotations

import re
from functools import lru_cache

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from postrender.errors import Location, Problem, error
from postrender.limits import DEFAULT_LIMITS, Limits
from postrender.stream.emit import plain_is_string
from postrender.stream.split import Document

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any

try:
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader

_STR = "tag:yaml.org,2002:str"
_CANONICAL: dict[str, Any] = {
    "tag:yaml.org,2002:bool": {"true", "false"}.__contains__,
    "tag:yaml.org,2002:null": "null".__eq__,
}
# Anchors (``&a``) and aliases (``*a``) start a node: after a line start, a space, a flow indicator
# or ``:``. These patterns match a superset of those places, so "no match" proves there are none.
_ANCHOR = re.compile(r"(?:^|[\s\[\]{},:?\-\ufeff])&", re.MULTILINE)
_ALIAS = re.compile(r"(?:^|[\s\[\]{},:?\-\ufeff])\*", re.MULTILINE)


class SourceForms:
    """How one collection's non-canonical scalars were written, by key or index.

    A form is ``(text, style)``: the source text of a plain scalar that would be written
    differently (style ``None``), or a string and the quoting or block style it was written in.
    """

    __slots__ = ("container", "values", "keys")

    def __init__(self, container: Any):
        self.container = container  # kept alive, so its id() is not reused for another object
        self.values: dict[Any, tuple[Any, tuple[str, str | None]]] = {}  # key or index -> (loaded value, form)
        self.keys: dict[Any, tuple[str, str | None]] = {}  # mapping key -> its form


class ManifestLoader(_BaseLoader):  # type: ignore[misc]
    """Safe loader for manifests: refuses duplicate keys, remembers non-canonical scalars."""

    def __init__(self, stream: Any):
        super().__init__(stream)
        self.source_forms: dict[int, SourceForms] = {}
        self._odd: dict[ScalarNode, tuple[str, str | None]] = {}  # forms noted since the last collection was filled
        self._has_merge = False

    def _note(self, node: ScalarNode, value: Any) -> Any:
        canonical = _CANONICAL.get(node.tag)
        if not node.style and not (canonical(node.value) if canonical else node.value == str(value)):
            self._odd[node] = (node.value, None)
        return value

    def construct_note_str(self, node: ScalarNode) -> Any:
        value = self.construct_yaml_str(node)
        if node.style:  # quoted or a block scalar: keep the quotes ("on", '0755') or the block style
            self._odd[node] = (value, node.style)
        elif not plain_is_string(value):  # plain 0o17, y, 1e3: a string here, not to Go; kept as written
            self._odd[node] = (value, None)
        return value

    def construct_note_int(self, node: ScalarNode) -> Any:
        return self._note(node, self.construct_yaml_int(node))

    def construct_note_float(self, node: ScalarNode) -> Any:
        return self._note(node, self.construct_yaml_float(node))

    def construct_note_bool(self, node: ScalarNode) -> Any:
        if str(node.value).lower() not in self.bool_values:  # an explicit ``!!bool x``
            raise yaml.constructor.ConstructorError(None, None, f"invalid !!bool value {node.value!r}", node.start_mark)
        return self._note(node, self.construct_yaml_bool(node))

    def construct_note_null(self, node: ScalarNode) -> Any:
        return self._note(node, self.construct_yaml_null(node))

    def construct_note_timestamp(self, node: ScalarNode) -> Any:
        if not self.timestamp_regexp.match(str(node.value)):  # an explicit ``!!timestamp x``
            raise yaml.constructor.ConstructorError(None, None, f"invalid !!timestamp value {node.value!r}",
                                                    node.start_mark)
        try:
            value = self.construct_yaml_timestamp(node)
        except ValueError:  # 2001-02-30: not a date, so a string (as Kubernetes' YAML reader sees it)
            if node.style:
                raise
            value = str(node.value)
        if not node.style:  # plain: None from PyYAML's composer, "" from libyaml's
            self._odd[node] = (node.value, None)
        return value

    def flatten_mapping(self, node: MappingNode) -> None:
        if any(key.tag == "tag:yaml.org,2002:merge" for key, _ in node.value):
            self._has_merge = True
        super().flatten_mapping(node)

    def construct_note_map(self, node: MappingNode) -> Any:
        data: dict[Any, Any] = {}
        yield data
        self._odd.clear()
        self._has_merge = False
        mapping = self.construct_mapping(node)
        data.update(mapping)
        if len(mapping) < len(node.value) and not self._has_merge:
            self._refuse_duplicate(node)
        if self._odd:
            forms = self.source_forms.setdefault(id(data), SourceForms(data))
            for key_node, value_node in node.value:
                if key_node in self._odd or value_node in self._odd:
                    key = self.construct_object(key_node)
                    if key_node in self._odd:
                        forms.keys[key] = self._odd[key_node]
                    if value_node in self._odd:
                        forms.values[key] = (data[key], self._odd[value_node])
            self._odd.clear()

    def construct_note_seq(self, node: SequenceNode) -> Any:
        data: list[Any] = []
        yield data
        self._odd.clear()
        data.extend(self.construct_sequence(node))
        if self._odd:
            forms = self.source_forms.setdefault(id(data), SourceForms(data))
            for index, child in enumerate(node.value):
                if child in self._odd:
                    forms.values[index] = (data[index], self._odd[child])
            self._odd.clear()

    def _refuse_duplicate(self, node: MappingNode) -> None:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (Kubernetes refuses it too)", key_node.start_mark)
            seen.add(key)


for _tag, _constructor in (("int", ManifestLoader.construct_note_int), ("float", ManifestLoader.construct_note_float),
                           ("bool", ManifestLoader.construct_note_bool), ("null", ManifestLoader.construct_note_null),
                           ("timestamp", ManifestLoader.construct_note_timestamp),
                           ("str", ManifestLoader.construct_note_str),
                           ("map", ManifestLoader.construct_note_map), ("seq", ManifestLoader.construct_note_seq)):
    ManifestLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _constructor)


class UnsharingLoader(ManifestLoader):
    """For documents with aliases: every alias becomes its own copy of the anchored node.

    Shared objects would let a rule that writes into one pod template also write into the
    place the alias points from (a workload's own metadata, another resource). The expansion
    was bounded by the structure check before this loader runs.
    """

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        self.constructed_objects.pop(node, None)
        return super().construct_object(node, deep)


class StructureError(Exception):
    """A document refused from its event stream (a limit, or what loading would refuse), with its mark."""

    def __init__(self, message: str, mark: Any, limit: bool = True):
        super().__init__(message)
        self.message = f"refused: {message}" if limit else message
        self.mark = mark


_STANDARD_TAGS = frozenset({"!"} | {f"tag:yaml.org,2002:{name}" for name in (
    "str", "int", "float", "bool", "null", "timestamp", "binary", "map", "seq", "set", "omap", "pairs")})


def _shallow(text: str, max_depth: int) -> bool:
    """True when the text proves its nesting stays below ``max_depth`` without parsing it.

    A block collection nested in another is indented further, except a sequence written at
    its key's indentation, so block nesting is at most two levels per column of indentation;
    compact nesting on one line (``- - a``, ``? - a``) adds one level per indicator, and every
    flow collection needs a ``[`` or ``{``. Lines indented less than a quarter of the limit,
    fewer than an eighth of it in compact indicators and fewer than a quarter in brackets
    bound the depth below seven eighths of the limit.
    """
    if max_depth < 16:
        return False
    if text.count("[") + text.count("{") >= max_depth // 4:
        return False
    return _deep_lines(max_depth).search(text) is None


@lru_cache(maxsize=8)
def _deep_lines(max_depth: int) -> re.Pattern[str]:
    indent, compact = max_depth // 4, max_depth // 8
    return re.compile(rf"^ {{{indent}}}|^[ \t]*(?:[-?][ \t]+){{{compact}}}", re.M)


def check_structure(text: str, limits: Limits, thorough: bool = False) -> bool:
    """Refuse too deep nesting and too large alias expansion; return whether aliases occur.

    When the text proves the nesting shallow (``_shallow``) and no alias can occur (an alias
    needs an anchor), there is nothing to check and the event pass is skipped. ``thorough``
    always runs it and also refuses what constructing the data would refuse, as far as events
    show it: tags outside YAML's standard ones, and a scalar key written twice in a mapping.
    """
    if not thorough:
        may_alias = "&" in text and "*" in text and _ANCHOR.search(text) is not None and _ALIAS.search(text) is not None
        if not may_alias and _shallow(text, limits.max_depth):
            return False
    stack: list[list[Any]] = []  # per open collection: [anchor, expanded size, keys seen (mappings), next is a key]
    sizes: dict[str, int] = {}
    open_anchors: set[str] = set()
    collections: set[str] = set()  # anchors of mappings and sequences (unhashable as keys)
    expanded = 0
    aliases = False
    start_events = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
    end_events = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    events: Any = yaml.parse(text, Loader=_BaseLoader)  # each event class has its own attributes (tag, anchor, value)
    for event in events:
        kind = event.__class__
        if thorough and kind is not yaml.AliasEvent and getattr(event, "tag", None) not in (None, *_STANDARD_TAGS):
            raise StructureError(f"tag {event.tag!r} is not allowed: manifests are data only, no tag constructs an object",
                                 event.start_mark, limit=False)
        if thorough and stack and stack[-1][2] is not None and kind not in end_events:
            parent = stack[-1]
            if parent[3] and (kind in start_events or (kind is yaml.AliasEvent and event.anchor in collections)):
                raise StructureError("malformed YAML: found unhashable key", event.start_mark, limit=False)
            if parent[3] and kind is yaml.ScalarEvent and event.value != "<<":
                if event.value in parent[2]:
                    raise StructureError(f"malformed YAML: duplicate key {event.value!r} (Kubernetes refuses it too)",
                                         event.start_mark, limit=False)
                parent[2].add(event.value)
            parent[3] = not parent[3]
        if kind is yaml.ScalarEvent:
            if stack:
                stack[-1][1] += 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif kind in start_events:
            if len(stack) >= limits.max_depth:
                raise StructureError(f"nesting deeper than {limits.max_depth} levels (--max-depth)", event.start_mark)
            stack.append([event.anchor, 1, set() if kind is yaml.MappingStartEvent else None, True])
            if event.anchor:
                open_anchors.add(event.anchor)
                collections.add(event.anchor)
        elif kind in end_events:
            anchor, size = stack.pop()[:2]
            if stack:
                stack[-1][1] += size
            if anchor:
                sizes[anchor] = size
                open_anchors.discard(anchor)
        elif kind is yaml.AliasEvent:
            aliases = True
            if event.anchor in open_anchors:
                raise StructureError(f"alias *{event.anchor} refers to a node that contains it (a recursive structure)",
                                     event.start_mark)
            if thorough and event.anchor not in sizes:
                raise StructureError(f"malformed YAML: found undefined alias {event.anchor!r}", event.start_mark,
                                     limit=False)
            size = sizes.get(event.anchor, 1)
            expanded += size
            if expanded > limits.max_alias_expansion:
                raise StructureError(
                    f"aliases expand to more than {limits.max_alias_expansion} nodes (--max-alias-expansion), "
                    "as in a \"billion laughs\" document", event.start_mark)
            if stack:
                stack[-1][1] += size
    return aliases


def parse_document(document: Document, limits: Limits = DEFAULT_LIMITS) -> Problem | None:
    """Parse ``document.text`` into ``document.data``; return a problem instead of raising."""
    if document.blank:  # comment-only and empty documents: no loader needed (a stream may hold very many)
        document.data = None
        return None
    try:
        aliases = check_structure(document.text, limits)
        loader = (UnsharingLoader if aliases else ManifestLoader)(document.text)
        try:
            document.data = loader.get_single_data()
            document.source_forms = loader.source_forms
        finally:
            loader.dispose()
    except Exception as exc:  # noqa: BLE001 - untrusted input must never end in a traceback
        return _problem(document, exc, limits)
    return None


def screen_document(document: Document, limits: Limits = DEFAULT_LIMITS) -> Problem | None:
    """Check, without building any data, a document that will be written back unparsed.

    For a fast path that skips parsing documents no rule can select: the text still must be
    YAML that a safe loader accepts within the limits (syntax, tabs, depth, aliases, tags,
    duplicate keys), so that skipping never lets hostile input through to the cluster.
    """
    if document.blank:
        return None
    try:
        check_structure(document.text, limits, thorough=True)
    except Exception as exc:  # noqa: BLE001 - untrusted input must never end in a traceback
        return _problem(document, exc, limits)
    return None


def _problem(document: Document, exc: Exception, limits: Limits) -> Problem:
    """The located problem for why a document could not be read."""
    if isinstance(exc, StructureError):
        return error(exc.message, _where(document, exc.mark))
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "invalid YAML"
        if "could not determine a constructor" in what:
            tag = what.split("tag ", 1)[-1]
            return error(f"tag {tag} is not allowed: manifests are data only, no tag constructs an object",
                         _where(document, mark))
        if "maximum nesting depth" in what:  # libyaml's scanner looks ahead, so its own bound may come first
            return error(f"nesting deeper than {limits.max_depth} levels (--max-depth), or than the YAML parser's "
                         "own limit", _where(document, mark))
        return error(f"malformed YAML: {what}", _where(document, mark))
    if isinstance(exc, yaml.YAMLError):
        return error(f"malformed YAML: {exc}", _where(document, None))
    if isinstance(exc, (ValueError, TypeError, OverflowError, RecursionError)):
        return error(f"cannot read document: {exc}", _where(document, None))
    return error(f"cannot read document: {type(exc).__name__}: {exc}", _where(document, None))


def _where(document: Document, mark: Any) -> Location:
    return Location(document=document.index, line=document.line + mark.line if mark is not None else document.line)
