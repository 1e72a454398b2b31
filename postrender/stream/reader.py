"""The pipeline's readers: where a manifest stream comes from, read through one bounded read.

Every entry point (the root command, ``diff``, ``explain``, the kustomize plugin, the library)
reads through a ``Reader``, so the size limit and the UTF-8 check are the same everywhere:
no reader ever holds more than ``max_bytes + 1`` bytes of its source, and a NUL byte ends
the read at once. Rules files, presets, Velero policy files and kustomize configurations use
the same ``read_file`` (``postrender.ruleset.sources``, ``postrender.lint.run``).
"""

from __future__ import annotations

import sys

from postrender.errors import Location, PostRenderError, error

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import IO, Protocol

    class Reader(Protocol):
        """A source of one manifest stream."""

        name: str  # how messages name the source: "<stdin>", a file path

        def read(self, max_bytes: int) -> str:
            """The whole stream as text; ``PostRenderError`` when over ``max_bytes`` or not UTF-8."""
            ...


LIMIT_HINT = "raise the limit with --max-input-bytes or VELERO_POSTRENDER_MAX_INPUT_BYTES"
CHUNK = 1 << 20  # bytes read at a time


def read_bounded(stream: IO[bytes], max_bytes: int, name: str = "<stdin>") -> bytes:
    """Read a whole binary stream, but never more than ``max_bytes`` (+1 to tell it was more).

    The stream is read in chunks of at most ``CHUNK`` bytes, and a NUL byte (which no YAML
    stream may hold: ``/dev/zero``, a binary file given by mistake) is refused as soon as its
    chunk arrives, so an endless or binary source costs one chunk of memory and a moment,
    not the whole input limit.
    """
    chunks: list[bytes] = []
    size = 0
    while size <= max_bytes:
        chunk = stream.read(min(CHUNK, max_bytes + 1 - size))
        if not chunk:
            break
        if b"\0" in chunk:
            refuse_nul(b"".join(chunks) + chunk, name)
        chunks.append(chunk)
        size += len(chunk)
    check_size(size, max_bytes, name)
    return b"".join(chunks)


def refuse_nul(raw: bytes, name: str) -> None:
    """Refuse a stream holding a NUL byte, with its offset and line (no YAML stream holds one)."""
    at = raw.find(b"\0")
    if at >= 0:
        raise PostRenderError([error(f"input holds a NUL byte at offset {at}: not a YAML stream (a binary file?)",
                                     Location(file=name, line=raw.count(b"\n", 0, at) + 1))])


def check_size(size: int, max_bytes: int, name: str = "<stdin>") -> None:
    """Refuse a stream above the input limit before any parsing."""
    if size > max_bytes:
        raise PostRenderError([error(f"input is larger than {max_bytes} bytes (--max-input-bytes): refused",
                                     Location(file=name), LIMIT_HINT)])


def decode(raw: bytes, name: str = "<stdin>") -> str:
    """Decode the stream as UTF-8, refusing other bytes (and NUL) with the line they sit on."""
    refuse_nul(raw, name)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise PostRenderError(
            [error(f"input is not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}",
                   Location(file=name, line=line))]
        ) from None


def read_file(path: str, max_bytes: int, what: str = "file") -> str:
    """The text of a file, bounded like stdin; a missing or unreadable file is a located error."""
    try:
        with open(path, "rb") as handle:
            raw = read_bounded(handle, max_bytes, path)
    except FileNotFoundError:
        raise PostRenderError([error(f"{what} not found", Location(file=path))]) from None
    except IsADirectoryError:
        raise PostRenderError([error(f"{what} is a directory", Location(file=path))]) from None
    except OSError as exc:
        raise PostRenderError([error(f"cannot read {what}: {exc.strerror or exc}", Location(file=path))]) from None
    return decode(raw, path)


class StdinReader:
    """The process's standard input; on a terminal it first says what it waits for."""

    name = "<stdin>"

    def __init__(self, hint: bool = True):
        self.hint = hint

    def read(self, max_bytes: int) -> str:
        stdin = sys.stdin
        if stdin is None:
            raise PostRenderError([error("standard input is closed: pipe a manifest stream in", Location(file=self.name))])
        if self.hint and stdin.isatty():
            sys.stderr.write("velero-postrender: reading a manifest stream from stdin "
                             "(pipe it in, e.g. helm template ... | velero-postrender ...; Ctrl-D ends it)\n")
            sys.stderr.flush()
        try:
            raw = read_bounded(stdin.buffer, max_bytes, self.name)
        except OSError as exc:
            raise PostRenderError([error(f"cannot read standard input: {exc.strerror or exc}",
                                         Location(file=self.name))]) from None
        return decode(raw, self.name)


class FileReader:
    """A manifest file; ``-`` is standard input."""

    def __init__(self, path: str):
        self.name = path

    def read(self, max_bytes: int) -> str:
        return read_file(self.name, max_bytes, "manifest file")


class TextReader:
    """A stream already in memory (the library, the kustomize plugin after its own read)."""

    def __init__(self, text: str | bytes, name: str = "<input>"):
        self.text = text
        self.name = name

    def read(self, max_bytes: int) -> str:
        if isinstance(self.text, bytes):
            check_size(len(self.text), max_bytes, self.name)
            return decode(self.text, self.name)
        if len(self.text) * 4 > max_bytes:  # a UTF-8 character is at most 4 bytes: encode only when it may matter
            check_size(len(self.text.encode("utf-8", "surrogatepass")), max_bytes, self.name)
        return self.text


def reader_for(path: str | None) -> StdinReader | FileReader:
    """``--file PATH`` (``-`` or none: standard input)."""
    return StdinReader() if path in (None, "-") else FileReader(path)
