"""The manifest stream writer: what Helm, kustomize and a pipe receive.

The whole stream is written only after the run succeeded (the pipeline never calls a
non-tolerant writer on a failed run), and with SIGINT, SIGTERM and SIGHUP held back while it
is written, so a stopped run leaves nothing or everything on stdout. Helm 4 refuses empty
output, so under Helm 4 a stream of only whitespace becomes a comment.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import BinaryIO

    from postrender.pipeline import Run

EMPTY_OUTPUT_FOR_HELM4 = "# velero-postrender: the input held no manifests\n"
_CHUNK = 1 << 20  # encode piecewise: a second full copy of a large stream would only add to peak memory


class StreamWriter:
    """Writes the new manifest stream to a binary file (stdout for the command line)."""

    tolerant = False
    writes_stream = True

    def __init__(self, out: BinaryIO, helm4: bool | None = None):
        self.out = out
        self.helm4 = bool(os.environ.get("HELM_PLUGIN_NAME")) if helm4 is None else helm4

    def write(self, run: Run) -> None:
        self.write_text(run.output)

    def write_text(self, text: str) -> None:
        """Write a whole stream (a subclass may write a run's output with additions, e.g. comments)."""
        if self.helm4 and not text.strip():
            text = EMPTY_OUTPUT_FOR_HELM4
        held = _hold_signals()
        try:
            for start in range(0, len(text), _CHUNK):
                self.out.write(text[start:start + _CHUNK].encode("utf-8"))
            self.out.flush()
        finally:
            _release_signals(held)


def _hold_signals() -> set[int] | None:
    """Defer SIGINT, SIGTERM and SIGHUP until the whole stream is written (``_release_signals``):
    a consumer that applies what it reads (``| kubectl apply -f -``) never gets part of a stream
    from a run that was stopped. The signal takes effect right after the last byte (the run then
    ends with the signal's exit status). Only SIGKILL can cut the write short, and a reader that
    stops reading keeps the process waiting until it is killed."""
    if TYPE_CHECKING:
        import signal as _signal
    else:
        import _signal  # the C module: the signal package builds enums, start-up time Helm pays on every call

    if not hasattr(_signal, "pthread_sigmask"):  # pragma: no cover - Windows
        return None
    return {int(number) for number in _signal.pthread_sigmask(
        _signal.SIG_BLOCK, {_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP})}


def _release_signals(held: set[int] | None) -> None:
    if TYPE_CHECKING:
        import signal as _signal
    else:
        import _signal  # see _hold_signals

    if held is not None:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, held)


class TextWriter:
    """Keeps the new stream in memory (the library, the kustomize plugin's tests)."""

    tolerant = False
    writes_stream = True

    def __init__(self) -> None:
        self.text = ""

    def write(self, run: Run) -> None:
        self.text = run.output


class NullWriter:
    """Writes nothing: a run for its checks and effects only (``explain`` of a library caller)."""

    def __init__(self, tolerant: bool = False):
        self.tolerant = tolerant

    def write(self, run: Run) -> None:
        return None
