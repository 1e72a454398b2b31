"""The console entry point: Helm's call runs the root command without the CLI framework.

Helm runs the post-renderer on every install, upgrade and diff, so start-up time is paid
again and again. When the arguments hold only the root command's own options (what Helm
passes through ``--post-renderer-args``), they are read here and the run starts at once;
anything else (a subcommand, ``--help``, ``-V``, a typo, an unusual spelling, a shell asking
for completions) goes to the Typer application in ``postrender.cli.app``. Both read the
options from the one table in ``postrender.cli.options``; a property test runs both on the
same arguments and compares the keywords they give ``run_root``.
"""

from __future__ import annotations

import os
import sys

from postrender.cli.options import CHOICE, OPTIONS, REPEATED, SWITCH, option, run_options

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping

    from postrender.ruleset.sources import RuleInputs

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2


def parse_root_args(argv: list[str]) -> dict[str, Any] | None:
    """The keywords of ``run_root`` from ``argv``, or None when Typer must read it.

    Only the spellings in the option table are read: ``--long VALUE``, ``--long=VALUE``,
    ``-s VALUE`` and switches. Anything else (a subcommand, ``--help``, ``-V``, a typo, ``--``,
    a value that looks like an option, a single-valued option given twice, a value outside
    an option's choices) is left to Typer, which explains it.
    """
    table = run_options()
    spellings = {flag: entry for entry in table for flag in entry.flags}
    found: dict[str, Any] = {entry.name: None if entry.kind != SWITCH else False for entry in table}
    given: set[str] = set()
    position = 0
    while position < len(argv):
        token = argv[position]
        name, equals, value = token.partition("=")
        entry = spellings.get(token)
        if entry is not None and entry.kind == SWITCH:
            found[entry.name] = True
            position += 1
            continue
        if entry is not None and position + 1 < len(argv):
            value = argv[position + 1]
            position += 2
        elif entry is None and equals and name.startswith("--") and name in spellings \
                and spellings[name].kind != SWITCH:
            entry = spellings[name]
            position += 1
        else:
            return None
        if value.startswith("-") or (entry.kind == CHOICE and value not in entry.choices):
            return None
        if entry.kind == REPEATED:
            found[entry.name] = [*(found[entry.name] or ()), value]
        elif entry.name in given:
            return None  # given twice: leave the verdict to Typer
        else:
            found[entry.name] = value
        given.add(entry.name)
    return found


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
) -> None:
    """The root command: manifests on stdin, manifests on stdout, warnings on stderr.

    Raises ``PostRenderError`` or ``UsageError``; stdout is written only after the whole
    stream was rendered. Helm drops the stderr of a post-renderer that succeeds, so the
    warnings also go into the output as comments and, when Helm ran us, to the terminal
    (``postrender.integrations.helm``; docs/warnings.md).
    """
    # the pipeline is imported by the run only: --help and completion pass through this module
    from postrender.cli.report import print_problems
    from postrender.integrations.helm import WarningCommentWriter, tell_terminal_warnings
    from postrender.limits import Limits
    from postrender.pipeline import Options, PostRenderer
    from postrender.ruleset.sources import build_ruleset
    from postrender.stream.reader import StdinReader

    limits = Limits.from_settings(max_input_bytes, max_alias_expansion, max_depth)
    strict = strict_of(strict)
    ruleset = build_ruleset(rule_inputs(rules, presets, settings), limits.max_input_bytes)
    options = Options(strict=strict, allow_unmatched=allow_unmatched, limits=limits, parallel=True)
    run = PostRenderer(ruleset, options).run(StdinReader(), WarningCommentWriter(sys.stdout.buffer))
    print_problems(run.warnings)
    tell_terminal_warnings(run.warnings)


def exit_code_of(run: Callable[[], None]) -> int:
    """Run, print the project's errors as messages and map them to exit codes (no traceback)."""
    # imported when a command runs, so that importing this module stays cheap for --help and completion
    from postrender.cli.report import print_problems
    from postrender.errors import PostRenderError, UsageError, error

    try:
        run()
    except PostRenderError as exc:
        print_problems(exc.problems)
        return EXIT_PROBLEM
    except UsageError as exc:
        print_problems([error(str(exc))])
        return EXIT_USAGE
    return EXIT_OK


def completion_requested(environ: Mapping[str, str] | None = None) -> bool:
    """A shell asks for completions (``_VELERO_POSTRENDER_COMPLETE=complete_bash`` and the like):
    an empty argument list then is not a run, and stdin must not be read."""
    env = os.environ if environ is None else environ
    return any(key.startswith("_") and key.endswith("_COMPLETE") and value for key, value in env.items())


def _dispatch() -> None:
    keywords = None if completion_requested() else parse_root_args(sys.argv[1:])
    if keywords is None:
        from postrender.cli.app import run_app  # Typer costs start-up time: only when the fast path cannot

        run_app(sys.argv[1:])
        return
    sys.exit(exit_code_of(lambda: run_root(**keywords)))


EXIT_INTERRUPTED = 130  # 128 + SIGINT: what a shell reports for a command stopped with Ctrl-C


def _guarded_dispatch() -> None:
    """``_dispatch`` with what the process meets turned into exit codes, never a traceback:
    Ctrl-C exits 130, and a failed write (a full disk, a closed or broken stdout) is one
    error line and exit 1. Standard output is flushed here, so that a failed write surfaces
    while it can still be reported (at interpreter exit it could only be a traceback)."""
    try:
        try:
            _dispatch()
        finally:
            if sys.stdout is not None:
                sys.stdout.flush()
    except KeyboardInterrupt:
        raise SystemExit(EXIT_INTERRUPTED) from None
    except OSError as exc:  # the reads report their own errors: this is a write of the output
        _discard_stdout()
        _say(f"error: {exc.filename or 'cannot write the output'}: {exc.strerror or exc}\n")
        raise SystemExit(EXIT_PROBLEM) from None


def _say(text: str) -> None:
    """Best effort to stderr (which may itself be full or gone)."""
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass


def _discard_stdout() -> None:
    """Point fd 1 at /dev/null, so that what is left in stdout's buffer cannot fail again at exit."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
    except OSError:
        pass


def _open_standard_streams() -> bool:
    """Give closed standard streams (``<&-``, ``>&-``, ``2>&-``) /dev/null, so that no file the run
    opens takes their place; False when stdout was closed (nowhere to write the result).

    Python leaves ``sys.stdin``/``sys.stdout``/``sys.stderr`` None for a closed descriptor: a
    closed stdin stays None (the readers report it: "standard input is closed"), stderr writes
    to /dev/null.
    """
    if sys.stdin is not None and sys.stdout is not None and sys.stderr is not None:
        return True
    for descriptor, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is None:
            null = os.open(os.devnull, os.O_RDWR)
            if null != descriptor:
                os.dup2(null, descriptor)
                os.close(null)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # for the rest of the process
    return sys.stdout is not None


def main() -> None:
    """Console-script entry point (under Helm 4, failures also go to the error log: postrender.integrations.helm).

    Process conditions (docs/security.md): a stdout closed early (``| head -1``) ends the
    process quietly by SIGPIPE, as it ends ``cat`` or ``grep`` (a shell reports 141); a closed
    stdin or stdout, or a write that fails (``> /dev/full``), is one error line and exit 1;
    Ctrl-C exits 130; SIGTERM ends the run at once with nothing on stdout, or, when it comes
    while the stream is written, right after the last byte (``writers.stream``).
    """
    if TYPE_CHECKING:
        import signal as _signal
    else:
        import _signal  # the C module: the signal package builds enums, start-up time Helm pays on every call

    if hasattr(_signal, "SIGPIPE"):
        _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)  # Python ignores SIGPIPE and raises BrokenPipeError
    if not _open_standard_streams():
        _say("error: standard output is closed: nowhere to write the result (redirect it, e.g. > out.yaml)\n")
        sys.exit(EXIT_PROBLEM)
    from postrender.integrations.helm import run_logged

    run_logged(_guarded_dispatch)
