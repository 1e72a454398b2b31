"""The manifest stream writer: what Helm, kustomize and a pipe receive.

The whole stream is written only after the run succeeded (the pipeline never calls a
non-tolerant writer on a failed run). Helm 4 refuses empty output, so under Helm 4 an empty
stream becomes a comment.
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

    def __init__(self, out: BinaryIO, helm4: bool | None = None):
        self.out = out
        self.helm4 = bool(os.environ.get("HELM_PLUGIN_NAME")) if helm4 is None else helm4

    def write(self, run: Run) -> None:
        self.write_text(run.output)

    def write_text(self, text: str) -> None:
        """Write a whole stream (a subclass may write a run's output with additions, e.g. comments)."""
        if self.helm4 and not text.strip():
            text = EMPTY_OUTPUT_FOR_HELM4
        for start in range(0, len(text), _CHUNK):
            self.out.write(text[start:start + _CHUNK].encode("utf-8"))
        self.out.flush()


class TextWriter:
    """Keeps the new stream in memory (the library, the kustomize plugin's tests)."""

    tolerant = False

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
