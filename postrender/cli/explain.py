"""``velero-postrender explain``: which rule changed which resource and how, and why the rules
that matched nothing missed (the near misses), so nobody debugs a post-renderer blind.

It is the root command's pipeline with the explain writer (``postrender.writers.explain``) and
``allow_unmatched``: a rule that matched nothing is the case this command exists for.
"""

from __future__ import annotations

from typing import Annotated

import typer

from postrender.cli.common import ColorMode, ColorOption, FileOption, limits_from_environment, reader_for, use_color
from postrender.cli.options import PresetOption, RulesOption, SetOption, reported, rule_inputs

WideOption = Annotated[bool, typer.Option("--wide", "-w", help="Show annotation values in full.")]


@reported
def explain(
    rules: RulesOption = None,
    preset: PresetOption = None,
    set_: SetOption = None,
    file: FileOption = None,
    color: ColorOption = ColorMode.auto,
    wide: WideOption = False,
) -> None:
    """Show what each rule changed, and why a rule matched nothing.

    Takes the same rules as the root command and the manifests on stdin (or --file). A rule
    that matched nothing is listed with its near misses: the resources where the most
    selectors held, and the selector that failed. Exit 1 on errors (e.g. a conflict).

    \b
    Examples:
      helm template rel chart/ | velero-postrender explain --preset postgresql
      velero-postrender explain -r rules.yaml -f manifests.yaml --set embedded=false
      kubectl kustomize overlay/ | velero-postrender explain -r rules.yaml --wide
    """
    from postrender.cli.report import print_problems
    from postrender.pipeline import Options, PostRenderer
    from postrender.ruleset.sources import build_ruleset
    from postrender.writers.explain import ExplainWriter

    ruleset = build_ruleset(rule_inputs(rules, preset, set_))
    writer = ExplainWriter(use_color(color), wide)
    # full_parse: the near misses need every resource, not only those the screen lets through
    options = Options(allow_unmatched=True, full_parse=True, limits=limits_from_environment())
    PostRenderer(ruleset, options).run(reader_for(file), writer)
    assert writer.explanation is not None
    print_problems(writer.explanation.problems)
    if any(p.is_error for p in writer.explanation.problems):
        raise typer.Exit(1)
