"""``velero-postrender lint FILE...``: check rules files without any manifests, in CI or an editor.

A thin command over ``postrender.lint``: the loader's own validation runs first (so lint and a
real run never disagree), then every check module (``--list-checks``). Text output is one
line per problem and a summary on stdout; ``-o json`` prints one JSON document instead.
"""

from __future__ import annotations

import json
import sys
import typing
from pathlib import Path
from typing import Annotated

import typer

from postrender.cli.common import annotation_of, reported
from postrender.cli.options import option
from postrender.errors import PostRenderError, UsageError

# the shared options, from the one table of options (postrender.cli.options); mypy reads the plain types
if typing.TYPE_CHECKING:
    RulesOption = list[str] | None
    PresetOption = list[str] | None
    SetOption = list[str] | None
    OutputOption = str
    MaxInputBytesOption = str | None
    MaxAliasExpansionOption = str | None
    MaxDepthOption = str | None
    VeleroPolicyOption = str | None
else:
    RulesOption = annotation_of(option("rules"))
    PresetOption = annotation_of(option("presets"))
    SetOption = annotation_of(option("settings"))
    OutputOption = annotation_of(option("output"))
    MaxInputBytesOption = annotation_of(option("max_input_bytes"))
    MaxAliasExpansionOption = annotation_of(option("max_alias_expansion"))
    MaxDepthOption = annotation_of(option("max_depth"))
    VeleroPolicyOption = annotation_of(option("velero_policy"))


@reported
def lint(
    files: Annotated[list[Path] | None, typer.Argument(metavar="FILE...", help="Rules files to check.",
                                                       dir_okay=False, show_default=False)] = None,
    rules: RulesOption = None,
    presets: PresetOption = None,
    settings: SetOption = None,
    velero_policy: VeleroPolicyOption = None,
    output: OutputOption = "text",
    disable: Annotated[list[str] | None, typer.Option(
        "--disable", metavar="CHECK", show_default=False, help="Do not run this check (repeatable).")] = None,
    check_option: Annotated[list[str] | None, typer.Option(
        "--check-option", metavar="CHECK.OPTION=VALUE", show_default=False,
        help="Set an option of a check (repeatable), e.g. shell-syntax.timeout=30.")] = None,
    list_checks: Annotated[bool, typer.Option(
        "--list-checks", help="List the checks with their severity and options, and exit.")] = False,
    max_input_bytes: MaxInputBytesOption = None,
    max_alias_expansion: MaxAliasExpansionOption = None,
    max_depth: MaxDepthOption = None,
) -> None:
    """Check rules files without manifests (exit 1 when they would not load).

    Reports, with file:line, unknown keys (with a "did you mean"), wrong types, invalid
    JSONPath, regular expressions and durations, placeholders without a value (pass their
    --set), shell syntax errors in hook scripts (sh -n: parsed, never run), hooks whose
    container is left to chance, placeholders quoted twice, restore scripts that fail when
    there is nothing to restore, postRestore hooks without waitTimeout and, with
    --velero-policy, volumes a Velero volume policy would skip. Exit 1 on errors, 0 when there
    are only warnings.

    \b
    Examples:
      velero-postrender lint rules.yaml
      velero-postrender lint rules/*.yaml --set embedded=true
      velero-postrender lint --preset postgresql --velero-policy policies.yaml -o json
      velero-postrender lint --list-checks
    """
    # the lint machinery only when the command runs: --help and shell completion import this module
    from postrender.cli.common import limits_of
    from postrender.cli.root import rule_inputs
    from postrender.lint.run import (
        LintResult,
        checks_to_json,
        parse_check_options,
        read_inputs,
        result_to_json,
        summary_line,
    )
    from postrender.lint.run import lint as run_lint
    from postrender.ruleset.sources import parse_settings

    if list_checks:
        _list_checks(output, checks_to_json())
        return
    inputs = rule_inputs([str(path) for path in files or ()] + list(rules or ()), presets, settings)
    if not inputs.rules and not inputs.presets:
        raise UsageError("lint needs at least one rules FILE (or --preset NAME)")
    values = parse_settings(inputs.settings)
    options = parse_check_options(check_option or ())
    max_bytes = limits_of(max_input_bytes, max_alias_expansion, max_depth).max_input_bytes
    policy, policy_problems = None, []
    if velero_policy is not None:
        from postrender.filters.policy import read_policies

        try:
            policy = read_policies(str(velero_policy), max_bytes)
        except PostRenderError as exc:
            policy_problems = list(exc.problems)
    result = run_lint(read_inputs(inputs.rules, inputs.presets, max_bytes), values, policy, list(disable or ()), options)
    if policy_problems:
        from postrender.lint.run import Finding

        result = LintResult(result.files, [Finding(p, "velero-policy") for p in policy_problems] + result.findings)
    if output == "json":
        sys.stdout.write(json.dumps(result_to_json(result), indent=2, ensure_ascii=False) + "\n")
    else:
        for problem in result.problems:
            sys.stdout.write(problem.render() + "\n")
        sys.stdout.write(summary_line(result) + "\n")
    sys.stdout.flush()
    if result.errors:
        raise typer.Exit(1)


def _list_checks(output: str, checks: list[dict[str, object]]) -> None:
    if output == "json":
        sys.stdout.write(json.dumps({"version": 1, "checks": checks}, indent=2, ensure_ascii=False) + "\n")
        return
    width = max(len(str(check["id"])) for check in checks)
    for check in checks:
        sys.stdout.write(f"{str(check['id']).ljust(width)}  {str(check['severity']).ljust(7)}  {check['summary']}\n")
        options = check["options"]
        assert isinstance(options, dict)
        for key, entry in options.items():
            sys.stdout.write(f"{'':{width}}  {'':7}    option {key} ({entry['type']}, default "
                             f"{entry['default']!r}): {entry['description']}\n")
    sys.stdout.flush()
