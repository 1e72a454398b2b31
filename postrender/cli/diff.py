"""``velero-postrender diff``: the root command's pipeline with the diff writer, so the diff is
what Helm would receive (same rules, same checks, same limits, same --strict/--allow-unmatched),
shown per resource and only where the data changes (``postrender.writers.diff``, docs/diff.md)."""

from __future__ import annotations

import sys

from postrender.cli.common import limits_of, reader_for, reported, use_color, with_options
from postrender.cli.root import policies_of, rule_inputs, strict_of


@reported
@with_options("diff")
def diff(
    rules: list[str] | None = None,
    presets: list[str] | None = None,
    settings: list[str] | None = None,
    strict: bool = False,
    allow_unmatched: bool = False,
    file: str | None = None,
    diff_output: str = "unified",
    color: str = "auto",
    max_input_bytes: str | None = None,
    max_alias_expansion: str | None = None,
    max_depth: str | None = None,
    velero_policy: str | None = None,
) -> None:
    """Show what the rules change, resource by resource, like helm-diff.

    The manifests come on stdin (or --file); the rules, checks and limits are those of the
    root command. Both sides are parsed and written out the same way, so only data changes
    show, never quoting or indentation. Exit 0 when the rules apply (whether or not anything
    changed), 1 on a problem. Formats: unified (a unified diff per changed resource), summary
    (one line per changed resource with its +/- line counts), json (docs/diff.md).

    \b
    Examples:
      helm template rel chart/ | velero-postrender diff --preset postgresql
      velero-postrender diff -r rules.yaml -f manifests.yaml | less -R
      velero-postrender diff -r rules.yaml -f manifests.yaml -o summary
    """
    # the pipeline only when the command runs: --help and shell completion import this module
    from postrender.errors import print_problems
    from postrender.pipeline import Options, PostRenderer
    from postrender.ruleset.sources import build_ruleset
    from postrender.writers.diff import DiffWriter

    limits = limits_of(max_input_bytes, max_alias_expansion, max_depth)
    strict = strict_of(strict)
    ruleset = build_ruleset(rule_inputs(rules, presets, settings), limits.max_input_bytes)
    options = Options(strict=strict, allow_unmatched=allow_unmatched, limits=limits, parallel=True,
                      velero_policy=policies_of(velero_policy, limits.max_input_bytes))
    writer = DiffWriter(sys.stdout, use_color(color), diff_output, limits)
    run = PostRenderer(ruleset, options).run(reader_for(file), writer)
    print_problems(run.warnings)
