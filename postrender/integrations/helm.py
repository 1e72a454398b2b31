"""Running under Helm, where the user does not see our stderr.

Helm 4 runs a ``postrenderer/v1`` plugin with ``HELM_PLUGIN_NAME`` set and, when it fails,
swallows its stderr: the user reads only ``plugin "velero-postrender" exited with error``.
So under Helm 4 a failing run also

- appends what it wrote to stderr to an error log file (``error_log_path``), and
- writes the same lines and the log's path to the controlling terminal (``/dev/tty``) when
  there is one, so that the message sits right above Helm's one-line error.

The tee sits around the whole command line, so usage errors that the CLI framework prints
itself (an unknown option in ``--post-renderer-args``) are logged too.

Helm 3 and Helm 4 both drop the stderr of a post-renderer that succeeds, so when Helm runs
us (``launched_by_helm``) the warnings of a successful run reach the user in two more ways
(docs/warnings.md):

- ``WarningCommentWriter`` writes them as YAML comment lines at the top of the first document
  of the output (``# velero-postrender warning: ...``): comments only, no data changes, and
  both Helm versions keep them, so they show in ``helm template`` and ``helm get manifest``
  (``VELERO_POSTRENDER_WARNING_COMMENTS`` forces them on or off);
- ``tell_terminal_warnings`` writes them to the controlling terminal, unless stderr is that
  terminal already.

In a shell pipe stderr reaches the user, and the output stays byte for byte what the rules
make of the input.

Every text that leaves this way is one line (``Problem.render`` escapes it with
``postrender.errors.safe_line``): a newline or an escape sequence inside a value cannot forge
another comment, document or terminal line.
"""

from __future__ import annotations

import io
import os
import sys
import time

from postrender.writers.stream import StreamWriter

TYPE_CHECKING = False  # typing costs start-up time
if TYPE_CHECKING:
    from pathlib import Path
    from typing import BinaryIO, Callable, Iterable, Mapping, TextIO

    from postrender.errors import Problem
    from postrender.pipeline import Run

ENV_ERROR_LOG = "VELERO_POSTRENDER_ERROR_LOG"
ENV_NO_TTY = "VELERO_POSTRENDER_NO_TTY"
ENV_WARNING_COMMENTS = "VELERO_POSTRENDER_WARNING_COMMENTS"  # 1: always, 0: never, else when Helm runs us
# the variables of plugin mode: this module's, and those the launcher bin/velero-postrender reads
PLUGIN_ENVIRONMENT = (ENV_ERROR_LOG, ENV_NO_TTY, ENV_WARNING_COMMENTS, "VELERO_POSTRENDER_PYTHON",
                      "VELERO_POSTRENDER_VENV", "VELERO_POSTRENDER_PIP_ARGS")
LOG_LIMIT = 256 * 1024  # bytes; the log is rotated to error.log.1 beyond this
WARNING_COMMENT = "# velero-postrender warning: "
# Helm 3 finds a document's template by the first "# Source: " anywhere in it (helm template --show-only)
_HELM3_SOURCE = "# Source: "
# line breaks for YAML, Go or a terminal (C0 but tab, DEL, C1, U+2028/9) and the byte order mark


def under_helm4(environ: Mapping[str, str] | None = None) -> bool:
    """Helm 4 sets ``HELM_PLUGIN_NAME`` for plugins; Helm 3 post-renderers never get it."""
    env = os.environ if environ is None else environ
    return bool(env.get("HELM_PLUGIN_NAME"))


def error_log_path(environ: dict[str, str] | None = None) -> Path:
    """``$VELERO_POSTRENDER_ERROR_LOG``, else ``${XDG_STATE_HOME:-~/.local/state}/velero-postrender/error.log``.

    The launcher in ``bin/`` computes the same path for errors it meets before Python runs.
    """
    from pathlib import Path  # only when a failure is logged: pathlib costs start-up time

    env = os.environ if environ is None else environ
    if env.get(ENV_ERROR_LOG):
        return Path(env[ENV_ERROR_LOG]).expanduser()
    state = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state).expanduser() / "velero-postrender" / "error.log"


class _Tee(io.TextIOBase):
    """A text stream that writes through to ``stream`` and keeps a copy."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.copy = io.StringIO()

    def write(self, text: str) -> int:
        self.copy.write(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False  # no colours or terminal tricks in what also goes to a file

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", "utf-8") or "utf-8"


def _header(exit_code: int | str | None) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    plugin = os.environ.get("HELM_PLUGIN_NAME", "")
    args = " ".join(sys.argv[1:]) or "(none)"
    return f"--- {stamp} helm plugin {plugin!r} failed (exit {exit_code}); cwd {os.getcwd()}; arguments: {args}\n"


def write_error_log(text: str, exit_code: int | str | None, path: Path | None = None) -> Path | None:
    """Append one failure to the log (rotating it when large); ``None`` when it cannot be written."""
    try:
        target = path or error_log_path()  # RuntimeError: no home directory (HOME unset, no passwd entry)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and target.stat().st_size > LOG_LIMIT:
            os.replace(target, target.with_name(target.name + ".1"))
        # backslashreplace: arguments that are not UTF-8 (surrogateescape'd by Python) are logged as \xNN
        with open(target, "a", encoding="utf-8", errors="backslashreplace") as log:
            log.write(_header(exit_code) + text + ("" if text.endswith("\n") else "\n"))
    except (OSError, RuntimeError):
        return None
    return target


def tell_terminal(text: str, log: Path | None) -> None:
    """Best effort: the user's terminal, if any, gets the message Helm 4 would hide."""
    if os.environ.get(ENV_NO_TTY):
        return
    where = f"(also in {log})" if log else "(the error log could not be written)"
    try:
        with open("/dev/tty", "w", encoding="utf-8", errors="backslashreplace") as tty:
            tty.write(f"velero-postrender failed {where}:\n{text}")
    except OSError:
        pass  # no controlling terminal: CI, Argo CD, a daemon


def run_logged(command: Callable[[], object]) -> None:
    """Run ``command``; under Helm 4 a non-zero exit also reaches the log file and the terminal."""
    if not under_helm4():
        command()
        return
    tee = _Tee(sys.stderr)
    sys.stderr = tee
    code: int | str | None = 0
    try:
        command()
    except SystemExit as exc:
        code = exc.code
        raise
    except BaseException as exc:  # an unexpected crash is logged too, then Python reports it
        code = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        sys.stderr = tee.stream
        if code not in (0, None):
            captured = tee.copy.getvalue() or f"error: {code}\n"
            tell_terminal(captured, write_error_log(captured, code))


# --- warnings of a successful run ---------------------------------------------------------

def warning_comments(problems: Iterable[Problem], newline: str = "\n") -> str:
    """One YAML comment line per problem, ``# velero-postrender warning: WHERE: MESSAGE (HINT)``."""
    lines: list[str] = []
    for problem in problems:
        text = problem.render().removeprefix(f"{problem.severity.value}: ")
        lines.append(WARNING_COMMENT + text.replace(_HELM3_SOURCE, "# Source ") + newline)
    return "".join(lines)


def with_warning_comments(run: Run) -> str:
    """The run's output with its warnings as comment lines at the top of the first document
    that has content (after its ``---`` and ``# Source:`` lines, before its first key), so that
    a parser sees the same data and Helm keeps them with that document. A stream without such
    a document is left as it is: empty input gives empty output (and Helm 4 drops documents
    made of comments only). Linear in the output's size."""
    output = run.output
    warnings = run.warnings
    if not warnings:
        return output
    position = 0
    for document in run.documents:
        offset = document.content_offset
        if offset is not None:  # the documents before it have no content: their output is their text
            position += sum(len(line) + 1 for line in document.text.split("\n", offset)[:offset])
            newline = "\r\n" if "\r\n" in document.text else "\n"
            break
        position += len(document.text)
    else:
        return output
    if output.startswith("\ufeff", position):  # a byte order mark stays first
        position += 1
    return output[:position] + warning_comments(warnings, newline) + output[position:]


class WarningCommentWriter(StreamWriter):
    """The manifest stream (``StreamWriter``), with the run's warnings as comments
    (``with_warning_comments``) when ``comments`` (None: ``warning_comments_wanted()``)."""

    def __init__(self, out: BinaryIO, helm4: bool | None = None, comments: bool | None = None):
        super().__init__(out, helm4)
        self.comments = comments

    def write(self, run: Run) -> None:
        wanted = self.comments if self.comments is not None else bool(run.warnings) and warning_comments_wanted()
        self.write_text(with_warning_comments(run) if wanted else run.output)


def warning_comments_wanted(environ: Mapping[str, str] | None = None) -> bool:
    """``VELERO_POSTRENDER_WARNING_COMMENTS`` (``1``/``true``/``yes`` or ``0``/``false``/``no``),
    else whether Helm runs us."""
    env = os.environ if environ is None else environ
    value = env.get(ENV_WARNING_COMMENTS, "").strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    return launched_by_helm(env)


def launched_by_helm(environ: Mapping[str, str] | None = None) -> bool:
    """Helm 4 (``HELM_PLUGIN_NAME``), or a parent process whose name starts with ``helm``: Helm 3
    runs the post-renderer itself and sets no variable (nor do helmfile, Argo CD or Flux's
    helm-controller, which run Helm's code in a process of that name)."""
    return under_helm4(environ) or parent_process_name().startswith("helm")


def parent_process_name() -> str:
    """The parent's command name from /proc (Linux); empty when unknown. No ``ps`` elsewhere:
    the post-renderer starts no process (on macOS, Helm 3 users set VELERO_POSTRENDER_WARNING_COMMENTS=1)."""
    try:
        with open(f"/proc/{os.getppid()}/comm", encoding="utf-8", errors="replace") as comm:
            return comm.read().strip()
    except OSError:
        return ""


def tell_terminal_warnings(problems: list[Problem], environ: Mapping[str, str] | None = None) -> bool:
    """Best effort: when Helm ran us (and will drop our stderr) and stderr is not the terminal,
    the warnings also go to the controlling terminal. True when they were written there."""
    env = os.environ if environ is None else environ
    if not problems or env.get(ENV_NO_TTY) or not launched_by_helm(env):
        return False
    stderr = getattr(sys.stderr, "stream", sys.stderr)  # under Helm 4, the tee's own stream
    try:
        if stderr.isatty():
            return False  # the user reads stderr already
    except (AttributeError, ValueError):
        pass
    try:
        with open("/dev/tty", "w", encoding="utf-8") as tty:
            tty.write("".join(f"velero-postrender: {p.render()}\n" for p in problems))
    except OSError:
        return False  # no controlling terminal: CI, Argo CD, a daemon
    return True
