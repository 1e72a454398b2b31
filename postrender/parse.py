"""Parse one document's text with safe loading only (libyaml's C loader when present).

Only the standard YAML tags are constructed (no ``!!python/...``); a parse failure is a
located problem, not an exception that escapes to the user.
"""

from __future__ import annotations

from typing import Any

import yaml

from postrender.errors import Location, Problem, error
from postrender.stream import Document

try:
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader


class ManifestLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader for manifests; kept as its own class so constructors stay local."""


def parse_document(document: Document) -> Problem | None:
    """Parse ``document.text`` into ``document.data``; return a problem instead of raising."""
    try:
        document.data = yaml.load(document.text, Loader=ManifestLoader)  # noqa: S506 - safe loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = document.line + mark.line if mark else document.line
        what = exc.problem or exc.context or "invalid YAML"
        return error(f"malformed YAML: {what}", Location(document=document.index, line=line))
    except yaml.YAMLError as exc:
        return error(f"malformed YAML: {exc}", Location(document=document.index, line=document.line))
    except (ValueError, TypeError, OverflowError) as exc:
        return error(f"cannot read document: {exc}", Location(document=document.index, line=document.line))
    return None


def is_blank(data: Any) -> bool:
    """A comment-only or empty document parses to None and is passed through as is."""
    return data is None
