"""The structure check of documents written back unparsed, on the second core when it pays.

Documents no rule can select are not parsed, but they are still checked
(``parse.screen_document``: syntax, tabs, depth, aliases, tags, duplicate keys) so that a
run refuses exactly what a full parse refuses. For a large stream that check is most of
the remaining work, and it needs nothing from the rest of the pipeline: a forked worker
takes a share of it while this process parses, merges and serialises the rest, and the
results are joined before anything is written. Problems come back as plain JSON fields.

The worker is only an accelerator: if ``fork`` is missing, the stream is small, or the
worker fails in any way, this process checks those documents itself.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict

from postrender.errors import Location, Problem, Severity
from postrender.limits import Limits
from postrender.stream.parse import parse_document, screen_document
from postrender.stream.resources import resources_of
from postrender.stream.screen import needs_check
from postrender.stream.split import Document

PARALLEL_THRESHOLD = 512 * 1024  # characters to check before a worker is worth its fork
PARSE_COST = 6  # a parsed, merged and re-written character costs about this many checked ones (measured)


def check_document(document: Document, limits: Limits) -> list[Problem]:
    """What a full parse would refuse in ``document``, which is written back unparsed.

    The structure check sees everything but what only constructing the data shows (the value
    of a tag, a merge key: ``prefilter.needs_check``); such documents are parsed in full, into
    a copy, since nothing of their data is needed afterwards.
    """
    if not needs_check(document.text):
        problem = screen_document(document, limits)
        return [problem] if problem is not None else []
    probe = Document(document.index, document.line, document.text)
    problem = parse_document(probe, limits)
    return [problem] if problem is not None else resources_of(probe)[1]


def check_serially(documents: list[Document], limits: Limits) -> list[Problem]:
    return [problem for document in documents for problem in check_document(document, limits)]


class Checking:
    """A structure check under way; ``finish`` returns its problems in document order."""

    def __init__(self, documents: list[Document], limits: Limits, parallel: bool, other_work: int = 0):
        self.limits = limits
        self.mine = documents
        self.theirs: list[Document] = []
        self.pid = 0
        self.reader = -1
        size = sum(len(d.text) for d in documents)
        if parallel and hasattr(os, "fork") and size >= PARALLEL_THRESHOLD:
            self._start_worker(documents, size, other_work)

    def _start_worker(self, documents: list[Document], size: int, other_work: int) -> None:
        """Hand the worker the first documents, as many as balances the two processes' work."""
        target = min(size, (size + PARSE_COST * other_work) // 2)
        taken, split_at = 0, 0
        while split_at < len(documents) and taken < target:
            taken += len(documents[split_at].text)
            split_at += 1
        reader, writer = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(reader)
            os.close(writer)
            return
        if pid == 0:  # the worker: check, report, and leave without running any cleanup of the parent's
            code = 0
            try:
                os.close(reader)
                found = check_serially(documents[:split_at], self.limits)
                payload = json.dumps([_encode(p) for p in found]).encode("utf-8")
                with os.fdopen(writer, "wb") as pipe:
                    pipe.write(payload)
            except BaseException:  # noqa: BLE001 - the parent redoes the work
                code = 1
            finally:
                os._exit(code)
        os.close(writer)
        self.pid, self.reader = pid, reader
        self.theirs, self.mine = documents[:split_at], documents[split_at:]

    def finish(self) -> list[Problem]:
        problems = check_serially(self.mine, self.limits)
        if self.pid:
            problems += self._join()
        return problems  # the caller puts them in stream order with the parse's

    def _join(self) -> list[Problem]:
        with os.fdopen(self.reader, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        if os.waitstatus_to_exitcode(status) == 0:
            try:
                return [_decode(item) for item in json.loads(payload)]
            except (ValueError, TypeError, KeyError):
                pass
        return check_serially(self.theirs, self.limits)  # the worker failed: do its share here

    def cancel(self) -> None:
        """Stop a worker whose result is no longer needed (the run failed before the join)."""
        if self.pid:
            try:
                os.kill(self.pid, 9)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            os.close(self.reader)
            self.pid = 0


def _encode(problem: Problem) -> dict[str, object]:
    return {"severity": problem.severity.value, "message": problem.message, "hint": problem.hint,
            "location": asdict(problem.location)}


def _decode(item: dict[str, object]) -> Problem:
    location = Location(**item["location"])  # type: ignore[arg-type]
    return Problem(Severity(item["severity"]), str(item["message"]), location,
                   None if item["hint"] is None else str(item["hint"]))
