"""JSONPath expressions (jsonpath-ng, extended syntax), compiled once per process.

``jsonpath_ng.ext.parse`` rebuilds its grammar on every call, so each distinct expression is
compiled once and reused; the import itself is deferred until a rule uses JSONPath.
"""

from __future__ import annotations

from functools import cache, lru_cache

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any


@cache
def _parser() -> Any:
    from jsonpath_ng.ext.parser import ExtendedJsonPathParser

    return ExtendedJsonPathParser()


@lru_cache(maxsize=512)
def compile_jsonpath(expression: str) -> Any:
    """The compiled expression; raises ValueError with jsonpath-ng's reason when invalid."""
    try:
        return _parser().parse(expression)
    except Exception as exc:  # jsonpath-ng raises bare Exception subclasses for syntax errors
        raise ValueError(str(exc) or type(exc).__name__) from None


def top_level_indexes(expression: str, resources: list[Any]) -> set[int]:
    """Indexes of the resources in which ``expression`` (``$`` = the list) finds something."""
    position = {id(resource): index for index, resource in enumerate(resources)}
    found: set[int] = set()
    for datum in compile_jsonpath(expression).find(resources):
        node = datum
        while node.context is not None and node.context.context is not None:
            node = node.context
        if node.context is None:  # the whole list was selected
            return set(range(len(resources)))
        index = position.get(id(node.value))
        if index is not None:
            found.add(index)
    return found
