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
from collections.abc import Hashable
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
        self._flattened: dict[MappingNode, tuple[list[tuple[Any, Any]], set[Any] | None]] = {}  # yaml.v2 merges

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
        """An explicit ``!!timestamp``: refused unless yaml.v2 parses it, then its text (as Kubernetes reads it)."""
        value = self.construct_scalar(node)
        if not go_timestamp(value):
            raise yaml.constructor.ConstructorError(
                None, None, f"invalid !!timestamp value {value!r} (Kubernetes cannot decode it either)", node.start_mark)
        return value

    def construct_note_binary(self, node: ScalarNode) -> Any:
        """``!!binary``: base64 as Go's decoder takes it (line breaks ignored, padding required, nothing else)."""
        import base64  # only for an explicit !!binary
        import binascii

        value = self.construct_scalar(node)
        text = value.replace("\n", "").replace("\r", "")
        try:
            if len(text) % 4 or not text.isascii():
                raise binascii.Error("truncated or not ASCII")
            return base64.b64decode(text, validate=True)
        except binascii.Error:
            raise yaml.constructor.ConstructorError(
                None, None, "invalid !!binary value: not base64 (Kubernetes refuses it too)", node.start_mark) from None

    def construct_go_collection(self, node: Any) -> Any:
        """``!!set``, ``!!omap`` and ``!!pairs`` as yaml.v2 reads them, which ignores these tags: a set is
        the mapping written (its members are keys with null values, in their order), an ordered map
        or a list of pairs the sequence written (one-key mappings, duplicates kept). A tag on a node
        of the other kind is refused."""
        expected = MappingNode if node.tag == _SET else SequenceNode
        if not isinstance(node, expected):
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.tag.rsplit(':', 1)[-1]!r} needs a {'mapping' if expected is MappingNode else 'sequence'}"
                f" node, not a {node.id}", node.start_mark)
        return self.construct_note_map(node) if isinstance(node, MappingNode) else self.construct_note_seq(node)

    def construct_note_map(self, node: MappingNode) -> Any:
        data: dict[Any, Any] = {}
        yield data
        self._odd.clear()
        if all(key_node.tag == _STR for key_node, _ in node.value):  # no merge key, only string keys: PyYAML's own loop
            mapping = self.construct_mapping(node)
            if len(mapping) < len(node.value):
                self._refuse_duplicate(node)
            data.update(mapping)
            pairs: Any = node.value
        else:
            pairs = self._construct_go_mapping(node, data)
        if self._odd:
            forms = self.source_forms.setdefault(id(data), SourceForms(data))
            for key_node, value_node in pairs:
                if key_node in self._odd or value_node in self._odd:
                    key = _go_key(self.construct_object(key_node))
                    if key_node in self._odd:
                        forms.keys[key] = self._odd[key_node]
                    if value_node in self._odd:
                        forms.values[key] = (data[key], self._odd[value_node])
            self._odd.clear()

    def _construct_go_mapping(self, node: MappingNode, data: dict[Any, Any]) -> list[tuple[Any, Any]]:
        """Fill ``data`` from a mapping with merge keys or keys that are not strings, as yaml.v2
        and the JSON of the API server read it; return the pairs used, in order.

        - Merge keys (``<<``) apply where they stand, like yaml.v2 (which is not what YAML 1.1
          says): a later key, explicit or merged, wins over an earlier one, and of the mappings
          of a merged list the first wins.
        - Keys are what the API server's JSON holds: ``on``/``yes``/``true`` are the key
          ``"true"`` (kept apart from ``1``, which Python would merge with ``True``), and keys
          that are the same JSON key (``1`` and ``"1"``, ``on`` and ``yes``) are duplicates.
          A null key is refused: kubectl cannot read it either.
        - Duplicate keys written in this mapping are refused, next to merge keys too.
        """
        pairs, explicit = self._go_pairs(node)
        written: dict[Any, Any] = {}  # JSON key -> key node, of the keys written in this mapping
        holder: dict[Any, Any] = {}  # JSON key -> the key that holds it in ``data``
        for key_node, value_node in pairs:
            key = self.construct_object(key_node)
            if isinstance(key, bool):
                key = "true" if key else "false"
                if key_node.style is None:
                    self._odd[key_node] = (key_node.value, None)  # written back as written: ``on:``
            elif key is None:
                raise yaml.constructor.ConstructorError("while constructing a mapping", node.start_mark,
                                                        "found a null key (Kubernetes cannot read it either)",
                                                        key_node.start_mark)
            elif not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError("while constructing a mapping", node.start_mark,
                                                        "found unhashable key", key_node.start_mark)
            identity = key if type(key) is str else json_key(key)
            if explicit is None or key_node in explicit:
                first = written.get(identity)
                if first is not None:
                    same = "" if first.value == key_node.value else f", the same key as {first.value!r} to Kubernetes"
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key_node.value!r}{same} (Kubernetes refuses it too)",
                        key_node.start_mark)
                written[identity] = key_node
            previous = holder.get(identity, _NONE)
            if previous is not _NONE and type(previous) is not type(key):
                del data[previous]  # one JSON key written two ways: the later wins, as in the API server's JSON
            holder[identity] = key
            data[key] = self.construct_object(value_node)
        return pairs

    def _go_pairs(self, node: MappingNode) -> tuple[list[tuple[Any, Any]], set[Any] | None]:
        """The key/value node pairs of a mapping with its merge keys expanded in yaml.v2's order,
        and the key nodes written in the mapping itself (None when it has no merge key)."""
        found = self._flattened.get(node)
        if found is not None:
            return found
        if not any(key_node.tag == _MERGE for key_node, _ in node.value):
            found = ([(_value_key(key_node), value_node) for key_node, value_node in node.value], None)
        else:
            pairs: list[tuple[Any, Any]] = []
            explicit: set[Any] = set()
            for key_node, value_node in node.value:
                if key_node.tag != _MERGE:
                    pairs.append((_value_key(key_node), value_node))
                    explicit.add(key_node)
                    continue
                merged = value_node.value[::-1] if isinstance(value_node, SequenceNode) else [value_node]
                for mapping in merged:  # of a merged list, the first mapping wins: it is applied last
                    if not isinstance(mapping, MappingNode):
                        raise yaml.constructor.ConstructorError(
                            "while constructing a mapping", node.start_mark,
                            "a merge key (<<) needs a mapping or a list of mappings", mapping.start_mark)
                    pairs.extend(self._go_pairs(mapping)[0])
            found = (pairs, explicit)
        self._flattened[node] = found
        return found

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


_NONE = object()
_SET = "tag:yaml.org,2002:set"
_MERGE = "tag:yaml.org,2002:merge"
_VALUE = "tag:yaml.org,2002:value"


def _value_key(key_node: Any) -> Any:
    """PyYAML resolves a plain ``=`` key to the YAML 1.1 value tag; it is the string ``=`` (as for yaml.v2)."""
    if key_node.tag == _VALUE:
        key_node.tag = _STR
    return key_node


def _go_key(key: Any) -> Any:
    """A key as the loader keeps it: booleans as the JSON keys ``"true"``/``"false"``."""
    return ("true" if key else "false") if isinstance(key, bool) else key


def json_key(key: Any) -> str:
    """The key of the API server's JSON for a YAML mapping key (sigs.k8s.io/yaml's conversion)."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        if key != key:
            return ".nan"
        if key in (float("inf"), float("-inf")):
            return ".inf" if key > 0 else "-.inf"
        if key.is_integer() and abs(key) < 1e6:  # Go's %g (shortest) writes these without a fraction
            return str(int(key))
        return repr(key)
    if isinstance(key, bytes):
        return key.decode("utf-8", "replace")
    return str(key)


# yaml.v2's timestamp layouts: 2006-1-2T15:4:5.999999999Z07:00 (T or t), 2006-1-2 15:4:5.999999999
# (one space or more, no zone) and 2006-1-2; a fraction may also follow a comma.
_GO_TIMESTAMP = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[Tt]([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})"
                           r"(?:[.,][0-9]+)?(?:Z|[+-]([0-9]{2}):([0-9]{2}))|( +)([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})"
                           r"(?:[.,][0-9]+)?)?")


def go_timestamp(text: str) -> bool:
    """Whether yaml.v2 (Kubernetes' YAML reader) decodes ``text`` as a ``!!timestamp``."""
    import calendar  # only for a scalar that looks like a date

    found = _GO_TIMESTAMP.fullmatch(text)
    if found is None:
        return False
    year, month, day = (int(found.group(number)) for number in (1, 2, 3))
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year, month)[1]:
        return False
    clock = found.group(4, 5, 6) if found.group(4) is not None else found.group(10, 11, 12)
    if clock[0] is not None and (int(clock[0]) > 23 or int(clock[1]) > 59 or int(clock[2]) > 59):
        return False
    return found.group(7) is None or (int(found.group(7)) <= 24 and int(found.group(8)) <= 60)


for _tag, _constructor in (("int", ManifestLoader.construct_note_int), ("float", ManifestLoader.construct_note_float),
                           ("bool", ManifestLoader.construct_note_bool), ("null", ManifestLoader.construct_note_null),
                           ("timestamp", ManifestLoader.construct_note_timestamp),
                           ("binary", ManifestLoader.construct_note_binary),
                           ("str", ManifestLoader.construct_note_str),
                           ("map", ManifestLoader.construct_note_map), ("seq", ManifestLoader.construct_note_seq),
                           ("set", ManifestLoader.construct_go_collection),
                           ("omap", ManifestLoader.construct_go_collection),
                           ("pairs", ManifestLoader.construct_go_collection)):
    ManifestLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _constructor)
# A plain scalar that looks like a date is a string, as Kubernetes' YAML reader (yaml.v2) gives every
# timestamp to an untyped field (written back as written: ``construct_note_str``); only an explicit
# !!timestamp is checked.
ManifestLoader.yaml_implicit_resolvers = {
    first: [(_STR if tag == "tag:yaml.org,2002:timestamp" else tag, pattern) for tag, pattern in entries]
    for first, entries in getattr(_BaseLoader, "yaml_implicit_resolvers").items()}  # noqa: B009 - _BaseLoader is a type


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


_NUMBER_START = frozenset("0123456789+-.")
_WORD_START = frozenset("nNtTfFoOyY~")
_TYPED_WORDS = frozenset({"yes", "no", "true", "false", "on", "off", "null", "~"})


def _may_be_typed(value: str) -> bool:
    """Whether a plain key may be something else than a string (cheap: most keys are words)."""
    first = value[:1]
    return not first or first in _NUMBER_START or (first in _WORD_START and value.lower() in _TYPED_WORDS)


def _plain_key(event: Any) -> str:
    """The JSON key of a plain mapping key, as the loader makes it (``on`` and ``yes`` are ``"true"``);
    a null key is refused here as the loader refuses it."""
    tag = event.tag if event.tag not in (None, "!") else _resolver().resolve(ScalarNode, event.value, (True, False))
    if tag == "tag:yaml.org,2002:null":
        raise StructureError("malformed YAML: found a null key (Kubernetes cannot read it either)", event.start_mark,
                             limit=False)
    if tag in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
        try:
            return json_key(getattr(_scalars(), f"construct_yaml_{tag.rsplit(':', 1)[1]}")(ScalarNode(tag, event.value)))
        except (ValueError, yaml.YAMLError):
            return str(event.value)  # the loader refuses it
    return str(event.value)


@lru_cache(maxsize=1)
def _resolver() -> Any:
    return yaml.resolver.Resolver()


@lru_cache(maxsize=1)
def _scalars() -> Any:
    return yaml.constructor.SafeConstructor()


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
                key = _plain_key(event) if not event.style and _may_be_typed(event.value) else event.value
                if key in parent[2]:
                    raise StructureError(f"malformed YAML: duplicate key {event.value!r} (Kubernetes refuses it too)",
                                         event.start_mark, limit=False)
                parent[2].add(key)
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
