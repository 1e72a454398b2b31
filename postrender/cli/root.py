"""The root command's run and what every command shares: where the rules come from, the
strict switch, and how the project's errors become messages and exit codes.

``postrender.cli.fast`` (Helm's calls, without Typer) and ``postrender.cli.app`` (Typer) both
call ``run_root``; this module imports nothing of either, so they do not import each other
but through the fast path's hand-over to Typer.
"""

from __future__ import annotations

import os
import sys

from postrender.cli.options import OPTIONS, option

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Callable, Mapping

    from postrender.filters.policy import ResourcePolicies
    from postrender.ruleset.sources import RuleInputs

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2


def rule_inputs(rules: list[str] | None, presets: list[str] | None, settings: list[str] | None) -> RuleInputs:
    """The rules of a run: the flags, merged with the VELERO_POSTRENDER_* environment (a set
    variable that nothing reads but that is close to one that is read is a warning)."""
    # not needed by --help and completion, which pass here
    from postrender.integrations.helm import PLUGIN_ENVIRONMENT
    from postrender.ruleset.sources import RuleInputs

    known = (*(entry.env for entry in OPTIONS if entry.env), *PLUGIN_ENVIRONMENT)
    return RuleInputs(tuple(rules or ()), tuple(presets or ()), tuple(settings or ())).with_environment(known=known)


def strict_of(strict: bool, environ: Mapping[str, str] | None = None) -> bool:
    """``--strict``, else the option's environment variable (``1``/``true``/``yes``; ``0``/``false``/``no``/empty)."""
    name = option("strict").env
    value = (os.environ if environ is None else environ).get(name, "").strip().lower()
    if strict or value in ("1", "true", "yes"):
        return True
    if value in ("", "0", "false", "no"):
        return False
    from postrender.errors import UsageError  # only for a wrong value

    raise UsageError(f"{name}={value!r}: expected 1, true or yes (or 0, false, no)")


def run_root(
    rules: list[str] | None = None,
    presets: list[str] | None = None,
    settings: list[str] | None = None,
    strict: bool = False,
    allow_unmatched: bool = False,
    max_input_bytes: str | None = None,
    max_alias_expansion: str | None = None,
    max_depth: str | None = None,
    velero_policy: str | None = None,
) -> None:
    """The root command: manifests on stdin, manifests on stdout, warnings on stderr.

    Raises ``PostRenderError`` or ``UsageError``; stdout is written only after the whole
    stream was rendered. Helm drops the stderr of a post-renderer that succeeds, so the
    warnings also go into the output as comments and, when Helm ran us, to the terminal
    (``postrender.integrations.helm``; docs/warnings.md).
    """
    # the pipeline is imported by the run only: --help and completion pass through this module
    from postrender.errors import print_problems
    from postrender.integrations.helm import WarningCommentWriter, tell_terminal_warnings
    from postrender.limits import Limits
    from postrender.pipeline import Options, PostRenderer
    from postrender.ruleset.sources import build_ruleset
    from postrender.stream.reader import StdinReader

    limits = Limits.from_settings(max_input_bytes, max_alias_expansion, max_depth)
    strict = strict_of(strict)
    ruleset = build_ruleset(rule_inputs(rules, presets, settings), limits.max_input_bytes)
    options = Options(strict=strict, allow_unmatched=allow_unmatched, limits=limits, parallel=True,
                      velero_policy=policies_of(velero_policy, limits.max_input_bytes))
    run = PostRenderer(ruleset, options).run(StdinReader(), WarningCommentWriter(sys.stdout.buffer))
    print_problems(run.warnings)
    tell_terminal_warnings(run.warnings)


def exit_code_of(run: Callable[[], None]) -> int:
    """Run, print the project's errors as messages and map them to exit codes (no traceback)."""
    # imported when a command runs, so that importing this module stays cheap for --help and completion
    from postrender.errors import PostRenderError, UsageError, error, print_problems

    try:
        run()
    except PostRenderError as exc:
        print_problems(exc.problems)
        return EXIT_PROBLEM
    except UsageError as exc:
        print_problems([error(str(exc))])
        return EXIT_USAGE
    return EXIT_OK




def policies_of(path: str | None, max_bytes: int) -> ResourcePolicies | None:
    """``--velero-policy FILE``: the Velero resource policies to check the run against, if given."""
    if path is None:
        return None
    from postrender.filters.policy import read_policies  # only runs given a policy file pay for it

    return read_policies(path, max_bytes)
