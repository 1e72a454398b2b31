"""Running as a Helm 4 plugin, where the user never sees our stderr.

Helm 4 runs a ``postrenderer/v1`` plugin with ``HELM_PLUGIN_NAME`` set and, when it fails,
swallows its stderr: the user reads only ``plugin "velero-postrender" exited with error``.
So under Helm 4 a failing run also

- appends what it wrote to stderr to an error log file (``error_log_path``), and
- writes the same lines and the log's path to the controlling terminal (``/dev/tty``) when
  there is one, so that the message sits right above Helm's one-line error.

The tee sits around the whole command line, so usage errors that the CLI framework prints
itself (an unknown option in ``--post-renderer-args``) are logged too.
"""

from __future__ import annotations

import io
import os
import sys

TYPE_CHECKING = False  # typing costs start-up time
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Callable, TextIO

ENV_ERROR_LOG = "VELERO_POSTRENDER_ERROR_LOG"
ENV_NO_TTY = "VELERO_POSTRENDER_NO_TTY"
LOG_LIMIT = 256 * 1024  # bytes; the log is rotated to error.log.1 beyond this


def under_helm4(environ: dict[str, str] | None = None) -> bool:
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
    import time

    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    plugin = os.environ.get("HELM_PLUGIN_NAME", "")
    args = " ".join(sys.argv[1:]) or "(none)"
    return f"--- {stamp} helm plugin {plugin!r} failed (exit {exit_code}); cwd {os.getcwd()}; arguments: {args}\n"


def write_error_log(text: str, exit_code: int | str | None, path: Path | None = None) -> Path | None:
    """Append one failure to the log (rotating it when large); ``None`` when it cannot be written."""
    target = path or error_log_path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and target.stat().st_size > LOG_LIMIT:
            os.replace(target, target.with_name(target.name + ".1"))
        with open(target, "a", encoding="utf-8") as log:
            log.write(_header(exit_code) + text + ("" if text.endswith("\n") else "\n"))
    except OSError:
        return None
    return target


def tell_terminal(text: str, log: Path | None) -> None:
    """Best effort: the user's terminal, if any, gets the message Helm 4 would hide."""
    if os.environ.get(ENV_NO_TTY):
        return
    where = f"(also in {log})" if log else "(the error log could not be written)"
    try:
        with open("/dev/tty", "w", encoding="utf-8") as tty:
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
