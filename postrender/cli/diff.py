"""``velero-postrender diff``: the root command's pipeline with the diff writer, so the diff is
what Helm would receive (same rules, same checks, same limits, same --strict/--allow-unmatched)."""

from __future__ import annotations

import sys

from postrender.cli.common import ColorMode, ColorOption, FileOption, limits_from_environment, reader_for, use_color
from postrender.cli.options import (
    AllowUnmatchedOption,
    PresetOption,
    RulesOption,
    SetOption,
    StrictOption,
    reported,
    rule_inputs,
)


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
    from postrender.pipeline import Options, PostRenderer
    from postrender.ruleset.sources import build_ruleset
    from postrender.writers.diff import DiffWriter

    ruleset = build_ruleset(rule_inputs(rules, preset, set_))
    options = Options(strict=strict, allow_unmatched=allow_unmatched, limits=limits_from_environment())
    run = PostRenderer(ruleset, options).run(reader_for(file), DiffWriter(sys.stdout, use_color(color)))
    print_problems(run.warnings)
