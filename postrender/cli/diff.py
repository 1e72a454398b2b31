"""``velero-postrender diff``: what the root command would change, as a unified diff.

It goes through ``render_stream`` exactly like the root command (same rules, same checks,
same --strict/--allow-unmatched), so the diff is what Helm would receive.
"""

from __future__ import annotations

import difflib
import sys

from postrender.cli.common import ColorMode, ColorOption, FileOption, read_manifests, use_color
from postrender.cli.options import (
    AllowUnmatchedOption,
    PresetOption,
    RulesOption,
    SetOption,
    StrictOption,
    reported,
    rule_inputs,
)

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


@reported
def diff(
    rules: RulesOption = None,
    preset: PresetOption = None,
    set_: SetOption = None,
    strict: StrictOption = False,
    allow_unmatched: AllowUnmatchedOption = False,
    file: FileOption = None,
    color: ColorOption = ColorMode.auto,
) -> None:
    """Print a unified diff of the manifests before and after the rules.

    The manifests come on stdin (or --file); the rules and checks are those of the root
    command. Exit 0 when the rules apply (whether or not anything changed), 1 on a problem.

    \b
    Examples:
      helm template rel chart/ | velero-postrender diff --preset postgresql
      velero-postrender diff -r rules.yaml -f manifests.yaml | less -R
    """
    from postrender.cli.report import print_problems
    from postrender.pipeline import Options, render_stream
    from postrender.ruleset.sources import build_ruleset

    ruleset = build_ruleset(rule_inputs(rules, preset, set_))
    text, name = read_manifests(file)
    result = render_stream(text, ruleset, Options(strict=strict, allow_unmatched=allow_unmatched))
    print_problems(result.warnings)
    patch = unified_diff(text, result.text, f"{name} (input)", "output")
    if not patch:
        sys.stderr.write("velero-postrender: the rules change nothing in these manifests\n")
        return
    sys.stdout.write(colorize(patch) if use_color(color) else patch)
    sys.stdout.flush()
