"""Rule out documents from their text, before any YAML parse (the fast path).

Helm calls the post-renderer on every install, upgrade and diff, and most documents of a
chart (Services, Secrets, ConfigMaps, RBAC, monitoring rules) can never be matched by a
rule that selects, say, StatefulSets running a postgres image. Parsing and re-serialising
them is most of the cost, so each document is screened lexically first:

- its top-level ``kind:`` (a single ``kind:`` key at column 0 with a plain or quoted value);
- the values of every ``image:`` key (one per line, in block style).

A document is skipped only when, for every enabled rule, the text *proves* the rule cannot
select it: its kind is known and not in the rule's ``kinds``, or all its images are known
and none matches the rule's ``images``. Anything the screen cannot read with certainty
(flow-style images, anchors, aliases, tags, quoted keys, a ``kind: List``, no kind line at
all) is parsed as usual, so the result equals the full parse for every well-formed stream
(a property test checks this). Rules that use ``jsonpath`` see the list of all resources,
so their presence turns the screen off.

Image patterns (``match.images``) are regular expressions in RE2 (``compile_pattern``), the
syntax and engine of Go's ``regexp``. A rules file may come from anywhere, and with a
backtracking engine such as Python's ``re`` a pattern like ``(a+)+$`` takes time exponential in
the length of the image it is tried on: one rule could hang every ``helm install``. RE2 runs
in time linear in the text whatever the pattern, and refuses what it cannot run that way
(backreferences, lookaround, repetition counts above 1000); a pattern means the same here as
in any Go tool (``\\b`` and ``\\d`` are ASCII, ``$`` is the end of the text, ``\\z`` exists and
``\\Z`` does not). The loader compiles every pattern here (an invalid one is a located error of
its rule), and the compiled objects serve this screen, matching (``filters.select``), the hook
container choice (``filters.merge``) and ``lint``.
"""

from __future__ import annotations

import re
from functools import lru_cache

import yaml
from yaml.nodes import ScalarNode

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any, Protocol

    class Pattern(Protocol):
        """A compiled image pattern: what the stages use of it."""

        @property
        def pattern(self) -> str: ...

        def search(self, text: str) -> Any: ...

# Patterns start with a literal newline (searched in "\n" + text) so that the regular
# expression engine jumps from line start to line start instead of trying every character.
_KIND_LINE = re.compile(r"\nkind[ \t]*:([^\n]*)")
_METADATA_HEAD = re.compile(r"\nmetadata:[ \t]*(?:#[^\n]*)?\r?\n")
_STR = "tag:yaml.org,2002:str"
_IMAGE_KEY = re.compile(r"image[\"']?[ \t]*:")
_IMAGE_PREFIX = re.compile(r"[ \t]*(?:-[ \t]+)*")
_PLAIN = re.compile(r"[ \t]*([^\s#&*!|>{\[\"'%@`,?:-][^#\r\n]*?|-[^\s#][^#\r\n]*?)[ \t]*(?:[ \t]#.*)?\r?$")
_DOUBLE = re.compile(r'[ \t]*"([^"\\\r\n]*)"[ \t]*(?:#.*)?\r?$')
_SINGLE = re.compile(r"[ \t]*'((?:[^'\r\n]|'')*)'[ \t]*(?:#.*)?\r?$")


def compile_pattern(pattern: str) -> Pattern:
    """An image pattern compiled by RE2; ``ValueError`` with RE2's reason when it is invalid."""
    import re2  # the RE2 extension: only rules with image patterns need it

    options = re2.Options()
    options.log_errors = False  # RE2 would print its own message on stderr: the loader reports it, located
    try:
        return ImagePattern(re2.compile(pattern, options))
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        raise ValueError(reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)) from None


class ImagePattern:
    """An RE2 pattern that remembers its verdict per image. A chart names a few images in many
    documents, and one RE2 search from Python costs several times a ``re`` search: the screen,
    the selectors and the container choice ask about the same images again and again."""

    __slots__ = ("compiled", "pattern", "_verdicts")

    def __init__(self, compiled: Any):
        self.compiled = compiled
        self.pattern: str = compiled.pattern
        self._verdicts: dict[str, bool] = {}

    def search(self, text: str) -> bool:
        """Whether the pattern occurs in ``text`` (what every caller asks)."""
        verdict = self._verdicts.get(text)
        if verdict is None:
            verdict = self._verdicts[text] = self.compiled.search(text) is not None
        return verdict

    def __repr__(self) -> str:
        return f"ImagePattern({self.pattern!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ImagePattern) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)


class Selector:
    """What one rule could select, as far as the screen can tell: kinds and image patterns
    (an empty tuple selects any)."""

    __slots__ = ("kinds", "images")  # a plain class: a dataclass costs start-up time Helm pays on every call

    def __init__(self, kinds: tuple[str, ...], images: tuple[Pattern, ...]):
        self.kinds = kinds
        self.images = images  # RE2 (compile_pattern): linear time on any image


class Screen:
    """What the enabled rules could possibly select, in a form the screen can check quickly.
    Built by ``postrender.filters.select.screen_for`` from a rule set."""

    __slots__ = ("selectors",)

    def __init__(self, selectors: tuple[Selector, ...]):
        self.selectors = selectors

    def may_match(self, text: str) -> bool:
        """False only when the text proves that no rule can select this document."""
        kind = lexical_kind(text)
        if kind is None or kind == "List" or not lexical_identity(text):
            return True  # kind or name not readable: the parse reports what is wrong, or finds the items
        images: list[str] | None = None
        for selector in self.selectors:
            if selector.kinds and kind is not None and kind not in selector.kinds:
                continue
            if selector.images:
                if images is None:
                    images = lexical_images(text)
                    if images is None:
                        return True
                if not any(p.search(image) for p in selector.images for image in images):
                    continue
            return True
        return False


# What only constructing the data refuses: the value of a tag (``!!int x``, ``!custom``) and
# merge keys (``<<: *not-a-mapping``). ``!=`` or ``! -f`` are no tags.
_TAG = re.compile(r"![!<\w-]")
_BEFORE_TAG = frozenset(" \t\r\n[{,:?-")
_MERGE = re.compile(r"<<[ \t]*:")


def needs_check(text: str) -> bool:
    """Whether a document no rule can select must still be parsed in full.

    Such a document is written back from its text after the structure check
    (``parse.screen_document``: syntax, tabs, depth, aliases, tags, duplicate and complex
    keys). What that check cannot see without building the data (the value of a standard
    tag, a merge key) sends the document through the full parse, so
    the run refuses exactly what a full parse refuses.
    """
    if "<<" in text and _MERGE.search(text) is not None:
        return True
    if "!" not in text:
        return False
    return any(found.start() == 0 or text[found.start() - 1] in _BEFORE_TAG for found in _TAG.finditer(text))


def _scalar(raw: str) -> str | None:
    """The value of a plain or simply quoted scalar on one line, else None."""
    for pattern in (_PLAIN, _DOUBLE, _SINGLE):
        found = pattern.match(raw)
        if found:
            value = found.group(1)
            return value.replace("''", "'") if pattern is _SINGLE else value
    return None


def _string_scalar(raw: str) -> str | None:
    """The value of a one-line scalar that YAML reads as a string (not 0755, true, null...)."""
    value = _scalar(raw)
    if value is None:
        return None
    if raw.strip()[:1] not in ("'", '"') and _resolver().resolve(ScalarNode, value, (True, False)) != _STR:
        return None
    return value


@lru_cache(maxsize=1)
def _resolver() -> Any:
    return yaml.resolver.Resolver()


def _single_key_line(lines: str, key: str) -> int:
    """Where the only line starting with ``key`` begins in ``lines`` ("\n" + text), else -1.

    Plain substring searches (fast) rule out a second such line and a quoted spelling of the key.
    """
    at = lines.find("\n" + key)
    if at < 0 or lines.find("\n" + key, at + 1) >= 0 or f'\n"{key}' in lines or f"\n'{key}" in lines:
        return -1
    return at


def lexical_kind(text: str) -> str | None:
    """The document's top-level kind when its text says so unambiguously, else None."""
    lines = "\n" + text
    at = _single_key_line(lines, "kind")
    found = _KIND_LINE.match(lines, at) if at >= 0 else None
    return _string_scalar(found.group(1)) if found else None


def lexical_identity(text: str) -> bool:
    """True when the text shows one block ``metadata:`` with a string name (or generateName)
    and, if any, a string namespace: what a resource needs to pass the identity checks."""
    lines = "\n" + text
    at = _single_key_line(lines, "metadata")
    head = _METADATA_HEAD.match(lines, at) if at >= 0 else None
    if head is None:
        return False
    found: dict[str, str] = {}
    indent = 0
    position = head.end()
    while position < len(lines):
        end = lines.find("\n", position)
        end = len(lines) if end < 0 else end
        line = lines[position:end].rstrip("\r")
        position = end + 1
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        depth = len(line) - len(stripped)
        if depth == 0:
            break  # the next top-level key: the metadata block is over
        if not indent:
            indent = depth
            if stripped[:1] in ("-", "\t"):
                return False
        if depth != indent:
            continue  # deeper lines (labels, annotations) are not the identity
        key, sep, rest = stripped.partition(":")
        if key in ("name", "generateName", "namespace"):
            if not sep or key in found or _string_scalar(rest) is None:
                return False
            found[key] = rest
    return "name" in found or "generateName" in found


def lexical_images(text: str) -> list[str] | None:
    """Every ``image:`` value of the document, or None when one cannot be read lexically.

    Each ``image:`` that is not the end of a longer key must be a block-style key (only
    indentation and sequence dashes before it on its line) with a one-line scalar value;
    anything else (flow style, a quoted key, an alias, the word inside a string) gives None.
    """
    images: list[str] = []
    for found in _IMAGE_KEY.finditer(text):
        at = found.start()
        if at and (text[at - 1].isalnum() or text[at - 1] in "_-."):
            continue  # the end of another key (``baseimage:``), not an image
        if found.group().startswith("image\"") or found.group().startswith("image'"):
            return None
        start = text.rfind("\n", 0, at) + 1
        if not _IMAGE_PREFIX.fullmatch(text, start, at):
            return None
        end = text.find("\n", found.end())
        value = _scalar(text[found.end(): len(text) if end < 0 else end])
        if value is None:
            return None
        images.append(value)
    return images
