"""The diff writer: what the root command would change, as a unified diff of the stream."""

from __future__ import annotations

import difflib
import sys

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import TextIO

    from postrender.pipeline import Run

NO_NEWLINE = "\\ No newline at end of file\n"
_COLOURS = (("+++", "\x1b[1m"), ("---", "\x1b[1m"), ("@@", "\x1b[36m"), ("+", "\x1b[32m"), ("-", "\x1b[31m"))


def unified_diff(before: str, after: str, from_name: str = "input", to_name: str = "output") -> str:
    """A ``diff -u`` style text; empty when the texts are equal."""
    lines: list[str] = []
    for line in difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                     from_name, to_name):
        if line.endswith("\n"):
            lines.append(line)
        else:  # the last line of a text without a final newline, as diff(1) shows it
            lines.append(line + "\n" + NO_NEWLINE)
    return "".join(lines)


def colorize(diff_text: str) -> str:
    """ANSI colours per line: headers bold, hunks cyan, additions green, removals red."""
    out: list[str] = []
    for line in diff_text.splitlines(keepends=True):
        body = line.rstrip("\n")
        code = next((code for prefix, code in _COLOURS if body.startswith(prefix)), None)
        out.append(f"{code}{body}\x1b[0m\n" if code else line)
    return "".join(out)


class DiffWriter:
    """Writes ``diff -u`` of the input and output streams; says so on stderr when they are equal."""

    tolerant = False

    def __init__(self, out: TextIO, color: bool = False):
        self.out = out
        self.color = color

    def write(self, run: Run) -> None:
        patch = unified_diff(run.text, run.output, f"{run.name} (input)", "output")
        if not patch:
            sys.stderr.write("velero-postrender: the rules change nothing in these manifests\n")
            return
        self.out.write(colorize(patch) if self.color else patch)
        self.out.flush()
