"""``velero-postrender explain``: which rule changed which resource and how, and why the rules
that matched nothing missed (the near misses), so nobody debugs a post-renderer blind.

It is the root command's pipeline with the explain writer (``postrender.writers.explain``,
or ``postrender.writers.json`` with ``-o json``) and ``allow_unmatched``: a rule that matched
nothing is the case this command exists for.
"""

from __future__ import annotations

import typer

from postrender.cli.common import limits_of, reader_for, reported, use_color, with_options
from postrender.cli.root import policies_of, rule_inputs
from postrender.errors import Problem
from postrender.ruleset.model import RuleSet


def rule_advice(ruleset: RuleSet) -> list[Problem]:
    """The lint warnings explain repeats about the rules themselves: a postRestore hook without
    ``waitTimeout`` leaves a Restore waiting for ever when its pod never gets ready."""
    from postrender.lint.restore_wait_timeout import missing_wait_timeout

    return [problem for rule in ruleset.enabled for problem in missing_wait_timeout(rule)]


@reported
@with_options("explain")
def explain(
    rules: list[str] | None = None,
    presets: list[str] | None = None,
    settings: list[str] | None = None,
    file: str | None = None,
    output: str = "text",
    color: str = "auto",
    wide: bool = False,
    max_input_bytes: str | None = None,
    max_alias_expansion: str | None = None,
    max_depth: str | None = None,
    velero_policy: str | None = None,
) -> None:
    """Show what each rule changed, and why a rule matched nothing.

    Takes the same rules and limits as the root command and the manifests on stdin (or
    --file). A rule that matched nothing is listed with its near misses: the resources where
    the most selectors held, and the selector that failed. Exit 1 on errors (e.g. a conflict).
    With -o json, stdout holds one JSON document, the problems included (docs/cli.md).

    \b
    Examples:
      helm template rel chart/ | velero-postrender explain --preset postgresql
      velero-postrender explain -r rules.yaml -f manifests.yaml --set embedded=false
      kubectl kustomize overlay/ | velero-postrender explain -r rules.yaml --wide
      velero-postrender explain -r rules.yaml -f manifests.yaml -o json | jq '.changed[].name'
    """
    # the pipeline only when the command runs: --help and shell completion import this module
    from postrender.errors import PostRenderError, print_problems
    from postrender.pipeline import Options, PostRenderer
    from postrender.ruleset.sources import build_ruleset
    from postrender.writers.explain import ExplainWriter
    from postrender.writers.json import ExplainJSONWriter

    limits = limits_of(max_input_bytes, max_alias_expansion, max_depth)
    inputs = rule_inputs(rules, presets, settings)

    def options() -> Options:
        # full_parse: the near misses need every resource, not only those the screen lets through
        return Options(allow_unmatched=True, full_parse=True, limits=limits,
                       velero_policy=policies_of(velero_policy, limits.max_input_bytes))

    if output == "json":
        json_writer = ExplainJSONWriter()
        try:
            ruleset = build_ruleset(inputs, limits.max_input_bytes)
            json_writer.advice = rule_advice(ruleset)
            PostRenderer(ruleset, options()).run(reader_for(file), json_writer)
        except PostRenderError as exc:  # the rules or the input could not be read: still one JSON document
            json_writer.write_problems(exc.problems)
        if json_writer.failed:
            raise typer.Exit(1)
        return
    ruleset = build_ruleset(inputs, limits.max_input_bytes)
    writer = ExplainWriter(use_color(color), wide, rule_advice(ruleset))
    PostRenderer(ruleset, options()).run(reader_for(file), writer)
    assert writer.explanation is not None
    print_problems(writer.explanation.problems)
    if any(p.is_error for p in writer.explanation.problems):
        raise typer.Exit(1)
