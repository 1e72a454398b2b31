"""Placeholders in hook shell code that do not arrive as one safe shell word.

In ``script:`` every ``{{ name }}`` is filled in as one shell word, already single-quoted, so
any value (spaces, quotes, ``$(...)``) arrives as data. Quotes written by hand around it are
then part of the value: ``dir='{{ scratchPath }}/x'`` gives ``dir=''/scratch'/x'``, read with
the path outside any quotes; inside ``"..."``, a here-document, ``${...}`` or ``$((...))`` the
inner quotes stay literal or the value is split again. The loader refuses those placements
(an error at the script); this check adds the line inside the script and the fix for any it
lets through. In ``command: [SHELL, -c, SCRIPT]`` a placeholder is pasted as plain text (an
argv element is never quoted), so a value with a quote, ``;`` or ``$(...)`` becomes shell code:
use ``script:`` there.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from postrender.errors import Problem, Severity, warning
from postrender.lint import shell
from postrender.lint.base import HookScript, RuleView
from postrender.ruleset.placeholders import compile_text

ID = "quoted-placeholder"
SEVERITY = Severity.WARNING
TYPE = "rule"
CONF: dict[str, tuple[type, str]] = {"comments": (bool, "also report placeholders in shell comments")}
DEFAULT: dict[str, Any] = {"comments": False}

_WHERE = {
    shell.SINGLE: "inside single quotes", shell.DOUBLE: "inside double quotes", shell.ANSI_C: "inside $'...'",
    shell.HEREDOC: "in a here-document", shell.COMMENT: "in a comment", shell.BACKTICK: "inside backquotes",
    shell.PARAMETER: "inside ${...}", shell.ARITHMETIC: "inside $((...))", shell.PLAIN: "a plain word",
}
_FIX = {
    shell.SINGLE: "remove the quotes around it: {text} is already one quoted word (e.g. dir={text}/x, not "
                  "dir='{text}/x')",
    shell.DOUBLE: "close the double quotes before it and reopen them after: \"$a\"{text}\"/b\", or assign it "
                  "first: v={text}; then use \"$v\"",
    shell.ANSI_C: "take it out of $'...': it is already one quoted word",
    shell.HEREDOC: "assign it to a variable first (v={text}) and write $v in the here-document",
    shell.BACKTICK: "use $(...) instead of backquotes, with the placeholder as a plain word inside",
    shell.PARAMETER: "assign it to a variable first (v={text}) and write ${{x:-$v}}",
    shell.ARITHMETIC: "assign it to a variable first (v={text}) and write $((v + 1))",
    shell.COMMENT: "placeholders in comments are filled in too; reword the comment",
}


def check(rule: RuleView, conf: Mapping[str, Any]) -> Iterator[Problem]:
    for script in rule.scripts():
        uses = [use for use in shell.placeholders_in(script.text)
                if use.context != shell.COMMENT or conf["comments"]]
        if script.quoted_placeholders:
            yield from _in_script(script, uses)
        else:
            yield from _in_command(script, uses)


def _in_script(script: HookScript, uses: list[shell.PlaceholderUse]) -> Iterator[Problem]:
    _, issues = compile_text(script.text, "script")
    for use in uses:
        # "{{ x }} is inside ...": the loader refuses it already, with an error at the script
        if use.context == shell.PLAIN or any(issue.message.startswith(use.text + " ") for issue in issues):
            continue
        yield warning(
            f"placeholder {use.text} is {_WHERE[use.context]} in the script, but it is filled in already "
            "shell-quoted: the quotes become part of the value, or the shell splits it again",
            script.location(use.line), _FIX[use.context].format(text=use.text))


def _in_command(script: HookScript, uses: list[shell.PlaceholderUse]) -> Iterator[Problem]:
    for use in uses:
        if use.name.startswith("resource.") and use.context in (shell.SINGLE, shell.PLAIN):
            continue  # Kubernetes names and namespaces are DNS labels: no quote, space or $ can occur
        yield warning(
            f"placeholder {use.text} is pasted as plain text into the shell code of a command list "
            f"({_WHERE[use.context]}): a value with a quote, a space, ; or $(...) changes the command",
            script.location(use.line),
            "write the hook as script: (with shell: if needed), where every placeholder is filled in as one "
            "quoted shell word")
