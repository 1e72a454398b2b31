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

from postrender.cli.options import CHOICE, REPEATED, SWITCH, run_options
from postrender.cli.root import EXIT_PROBLEM, exit_code_of, run_root

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any, Mapping




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
    from postrender.integrations.helm import run_logged  # after the stream checks above: a closed stdout needs none

    run_logged(_guarded_dispatch)
