"""The diff writer: what the rules change, resource by resource, as helm-diff and dyff show it.

Only semantic changes are shown. A document no rule changed is written back byte for byte,
so it has nothing to show and is not looked at again: the work is linear in the input and
grows with the changed resources only. For a changed document the input text is parsed again
with the pipeline's loader, and the data before and after are dumped by the same dumper
(``emit.dump_data``, without the remembered source forms): a resource that is only written
differently (Helm 3's quoting and indentation against ours) shows no line, and a resource
whose data ends up equal is not listed.

Three formats (docs/diff.md):

- ``unified``: per changed resource, a unified diff of the normalised YAML whose ``---``/``+++``
  headers name the resource (``Kind namespace/name``);
- ``summary``: one line per changed resource with its added and removed line counts;
- ``json``: one JSON document, ``{"version", "input", "changed": [...], "problems": [...]}``.
"""

from __future__ import annotations

import difflib
import json
import sys
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from postrender.limits import DEFAULT_LIMITS, Limits
from postrender.stream.emit import dump_data
from postrender.stream.parse import parse_document
from postrender.stream.resources import Resource, resources_of
from postrender.stream.split import Document
from postrender.writers.json import problem_to_json

if TYPE_CHECKING:
    from typing import Iterator, TextIO

    from postrender.pipeline import Run

UNIFIED, SUMMARY, JSON = "unified", "summary", "json"
FORMATS = (UNIFIED, SUMMARY, JSON)
DIFF_VERSION = 1
NO_NEWLINE = "\\ No newline at end of file\n"
NOTHING_CHANGED = "velero-postrender: the rules change nothing in these manifests\n"
BOLD, CYAN, GREEN, RED, RESET = "\x1b[1m", "\x1b[36m", "\x1b[32m", "\x1b[31m", "\x1b[0m"
_COLOURS = (("+++", BOLD), ("---", BOLD), ("@@", CYAN), ("+", GREEN), ("-", RED))


@dataclass(frozen=True)
class Change:
    """One changed resource: where it is, and its normalised YAML before and after."""

    kind: str
    namespace: str
    name: str
    document: int  # 1-based position of its document in the stream
    item: int | None  # 0-based index in a ``kind: List`` document's items, None for a whole document
    before: str
    after: str

    @property
    def label(self) -> str:
        """``Kind namespace/name`` (``Kind name`` without a namespace), as kubectl users read it."""
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    @property
    def place(self) -> str:
        return f"document {self.document}" + ("" if self.item is None else f", List item {self.item + 1}")

    @cached_property
    def diff_lines(self) -> list[str]:
        """The unified diff, its ``---``/``+++`` headers naming the resource."""
        return _unified(self.before, self.after, f"{self.label} (input, {self.place})", f"{self.label} (output)")

    @cached_property
    def counts(self) -> tuple[int, int]:
        """Lines added and removed."""
        added = removed = 0
        for line in self.diff_lines[2:]:
            if line.startswith("+"):
                added += 1
            elif line.startswith("-"):
                removed += 1
        return added, removed


def changes_of(run: Run, limits: Limits = DEFAULT_LIMITS) -> Iterator[Change]:
    """The resources whose data the rules changed, in stream order."""
    for document in run.documents:
        if not document.changed:
            continue
        original = Document(document.index, document.line, document.text)
        if parse_document(original, limits) is not None:  # the run parsed this text already: cannot happen
            raise RuntimeError(f"document {document.index} no longer parses")
        before, _ = resources_of(original)
        after, _ = resources_of(document)
        yield from _paired(before, after)


def _paired(before: list[Resource], after: list[Resource]) -> Iterator[Change]:
    """Rules never add or remove resources: the n-th before goes with the n-th after."""
    for old, new in zip(before, after, strict=True):
        old_text, new_text = dump_data(old.obj), dump_data(new.obj)
        if old_text != new_text:
            yield Change(new.kind, new.namespace, new.name, new.document.index, new.item, old_text, new_text)


def _unified(before: str, after: str, from_name: str, to_name: str) -> list[str]:
    lines: list[str] = []
    for line in difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                     from_name, to_name):
        if line.endswith("\n"):
            lines.append(line)
        else:  # the last line of a text without a final newline, as diff(1) shows it
            lines.append(line + "\n" + NO_NEWLINE)
    return lines


def unified_diff(before: str, after: str, from_name: str = "input", to_name: str = "output") -> str:
    """A ``diff -u`` style text; empty when the texts are equal."""
    return "".join(_unified(before, after, from_name, to_name))


def colorize(diff_text: str) -> str:
    """ANSI colours per line: headers bold, hunks cyan, additions green, removals red."""
    out: list[str] = []
    for line in diff_text.splitlines(keepends=True):
        body = line.rstrip("\n")
        code = next((code for prefix, code in _COLOURS if body.startswith(prefix)), None)
        out.append(f"{code}{body}{RESET}\n" if code else line)
    return "".join(out)


def change_to_json(change: Change) -> dict[str, Any]:
    """``{"kind", "namespace", "name", "document", "item", "added", "removed", "diff"}``."""
    added, removed = change.counts
    return {"kind": change.kind, "namespace": change.namespace or None, "name": change.name,
            "document": change.document, "item": change.item, "added": added, "removed": removed,
            "diff": "".join(change.diff_lines)}


class DiffWriter:
    """Writes the changes of a run in one of ``FORMATS``; says so on stderr when nothing changed
    (``json`` always writes its document, with an empty ``changed`` list then)."""

    tolerant = False

    def __init__(self, out: TextIO, color: bool = False, output: str = UNIFIED, limits: Limits = DEFAULT_LIMITS):
        if output not in FORMATS:
            raise ValueError(f"diff output {output!r}: expected one of {', '.join(FORMATS)}")
        self.out = out
        self.color = color
        self.output = output
        self.limits = limits

    def write(self, run: Run) -> None:
        changes = changes_of(run, self.limits)
        if self.output == JSON:
            document = {"version": DIFF_VERSION, "input": run.name,
                        "changed": [change_to_json(change) for change in changes],
                        "problems": [problem_to_json(problem) for problem in run.problems]}
            self.out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
            self.out.flush()
            return
        written = self._summary(changes) if self.output == SUMMARY else self._unified(changes)
        self.out.flush()
        if not written:
            sys.stderr.write(NOTHING_CHANGED)

    def _unified(self, changes: Iterator[Change]) -> int:
        count = 0
        for change in changes:
            text = "".join(change.diff_lines)
            self.out.write(colorize(text) if self.color else text)
            count += 1
        return count

    def _summary(self, changes: Iterator[Change]) -> int:
        rows = [(change.label, *change.counts) for change in changes]
        width = max((len(label) for label, _, _ in rows), default=0)
        for label, added, removed in rows:
            plus, minus = f"+{added}", f"-{removed}"
            if self.color:
                plus, minus = f"{GREEN}{plus}{RESET}", f"{RED}{minus}{RESET}"
            self.out.write(f"{label.ljust(width)}  {plus} {minus}\n")
        return len(rows)
