"""The console entry point: Helm's call runs the root command without the CLI framework.

Helm runs the post-renderer on every install, upgrade and diff, so start-up time is paid
again and again. When the arguments hold only the root command's own options (what Helm
passes through ``--post-renderer-args``), they are read here and the run starts at once;
anything else (a subcommand, ``--help``, ``--version``, a typo, an unusual spelling) goes
to the Typer application in ``postrender.cli.app``, which also defines the same options for
``--help`` and shell completion. A test runs both paths on the same arguments.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any, Callable

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2

# option spellings -> the keyword of ``run_root`` they fill
_VALUE_OPTIONS = {
    "--rules": "rules", "-r": "rules",
    "--preset": "presets", "-p": "presets",
    "--set": "settings", "-s": "settings",
    "--max-input-bytes": "max_input_bytes",
    "--max-alias-expansion": "max_alias_expansion",
    "--max-depth": "max_depth",
}
_REPEATABLE = {"rules", "presets", "settings"}
_FLAGS = {"--strict": "strict", "--allow-unmatched": "allow_unmatched"}


def parse_root_args(argv: list[str]) -> dict[str, Any] | None:
    """The root command's keywords from ``argv``, or None when Typer must read it."""
    found: dict[str, Any] = {"rules": [], "presets": [], "settings": []}
    position = 0
    while position < len(argv):
        token = argv[position]
        if token in _FLAGS:
            found[_FLAGS[token]] = True
            position += 1
            continue
        name, equals, value = token.partition("=")
        if name in _VALUE_OPTIONS and (equals and name.startswith("--")):
            position += 1
        elif token in _VALUE_OPTIONS and position + 1 < len(argv):
            value = argv[position + 1]
            position += 2
            name = token
        else:
            return None  # a subcommand, --help, --version, a typo...: Typer decides
        if value.startswith("-"):
            return None
        key = _VALUE_OPTIONS[name]
        if key in _REPEATABLE:
            found[key].append(value)
        elif key in found:
            return None  # given twice: leave the verdict to Typer
        else:
            found[key] = value
    return found


def rule_inputs(rules: list[str] | None, presets: list[str] | None, settings: list[str] | None) -> Any:
    """The rules of a run: the flags, merged with the VELERO_POSTRENDER_* environment."""
    from postrender.ruleset.sources import RuleInputs

    return RuleInputs(tuple(rules or ()), tuple(presets or ()), tuple(settings or ())).with_environment()


def run_root(
    rules: list[str] | None = None,
    presets: list[str] | None = None,
    settings: list[str] | None = None,
    strict: bool = False,
    allow_unmatched: bool = False,
    max_input_bytes: str | None = None,
    max_alias_expansion: str | None = None,
    max_depth: str | None = None,
) -> None:
    """The root command: manifests on stdin, manifests on stdout, warnings on stderr.

    Raises ``PostRenderError`` or ``UsageError``; stdout is written only after the whole
    stream was rendered.
    """
    from postrender.cli.report import print_problems
    from postrender.limits import Limits
    from postrender.pipeline import Options, PostRenderer
    from postrender.ruleset.sources import build_ruleset
    from postrender.stream.reader import StdinReader
    from postrender.writers.stream import StreamWriter

    limits = Limits.from_settings(max_input_bytes, max_alias_expansion, max_depth)
    ruleset = build_ruleset(rule_inputs(rules, presets, settings))
    options = Options(strict=strict, allow_unmatched=allow_unmatched, limits=limits, parallel=True)
    run = PostRenderer(ruleset, options).run(StdinReader(), StreamWriter(sys.stdout.buffer))
    print_problems(run.warnings)


def exit_code_of(run: Callable[[], None]) -> int:
    """Run, print the project's errors as messages and map them to exit codes (no traceback)."""
    from postrender.errors import PostRenderError, UsageError, error

    try:
        run()
    except PostRenderError as exc:
        from postrender.cli.report import print_problems

        print_problems(exc.problems)
        return EXIT_PROBLEM
    except UsageError as exc:
        from postrender.cli.report import print_problems

        print_problems([error(str(exc))])
        return EXIT_USAGE
    return EXIT_OK


def _dispatch() -> None:
    keywords = parse_root_args(sys.argv[1:])
    if keywords is None:
        from postrender.cli.app import app

        app()
        return
    sys.exit(exit_code_of(lambda: run_root(**keywords)))


def main() -> None:
    """Console-script entry point (under Helm 4, failures also go to the error log: postrender.integrations.helm)."""
    from postrender.integrations.helm import run_logged

    run_logged(_dispatch)
