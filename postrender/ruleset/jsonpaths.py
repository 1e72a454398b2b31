"""JSONPath expressions (jsonpath-ng, extended syntax), compiled once per process, and bounded.

``jsonpath_ng.ext.parse`` rebuilds its grammar on every call, so each distinct expression is
compiled once and reused; the import itself is deferred until a rule uses JSONPath.

The cost of an expression is not bounded by the size of the data: every ``..`` visits all the
nodes below each node the left side found, so ``$..*..*..*`` on a deeply nested stream builds
billions of results and ends in a ``MemoryError``. Every evaluation therefore has a work
budget, counted in steps: each sub-expression evaluated on a node is one step, and each node
it returns one more. An evaluation that needs more raises ``JSONPathWorkExceeded`` (a
``PostRenderError``; ``filters.select`` names the rule and its ``jsonpath`` field) as soon as
the budget is spent, long before memory runs out. The budget is
``VELERO_POSTRENDER_MAX_JSONPATH_WORK`` (default ``DEFAULT_MAX_JSONPATH_WORK``): three times
what ``$..image`` takes on a rendered stream at the 16 MiB input limit (about 300000 steps),
and spent by ``$..*..*..*`` on a deeply nested document in a few seconds and about 200 MiB.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from functools import cache, lru_cache

from postrender.errors import Location, PostRenderError, error

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any, Callable

DEFAULT_MAX_JSONPATH_WORK = 1_000_000
ENV_MAX_JSONPATH_WORK = "VELERO_POSTRENDER_MAX_JSONPATH_WORK"
WORK_HINT = f"make the expression more selective (fewer '..'), or raise {ENV_MAX_JSONPATH_WORK}"

_remaining: ContextVar[list[int] | None] = ContextVar("jsonpath_work", default=None)


class JSONPathWorkExceeded(PostRenderError):
    """An evaluation needed more steps than the budget allows."""

    def __init__(self, expression: str, limit: int, location: Location | None = None):
        self.expression = expression
        self.limit = limit
        super().__init__([error(f"JSONPath {expression!r} needs more than {limit} steps on this input "
                                f"({ENV_MAX_JSONPATH_WORK}): refused", location, WORK_HINT)])


def max_jsonpath_work(environ: dict[str, str] | None = None) -> int:
    """The budget of one evaluation: ``VELERO_POSTRENDER_MAX_JSONPATH_WORK``, else the default."""
    from postrender.limits import parse_limit

    value = (os.environ if environ is None else environ).get(ENV_MAX_JSONPATH_WORK) or None
    return DEFAULT_MAX_JSONPATH_WORK if value is None else parse_limit(value, ENV_MAX_JSONPATH_WORK)


@cache
def _parser() -> Any:
    from jsonpath_ng.ext.parser import ExtendedJsonPathParser  # jsonpath-ng and ply: only rules with a JSONPath pay

    return ExtendedJsonPathParser()


@lru_cache(maxsize=512)
def compile_jsonpath(expression: str) -> Any:
    """The compiled expression, its evaluation bounded (``find`` may raise ``JSONPathWorkExceeded``);
    raises ValueError with jsonpath-ng's reason when invalid."""
    try:
        compiled = _parser().parse(expression)
    except Exception as exc:  # jsonpath-ng raises bare Exception subclasses for syntax errors
        raise ValueError(str(exc) or type(exc).__name__) from None
    _count_work(compiled, expression)
    return compiled


def _count_work(root: Any, expression: str) -> None:
    """Wrap the ``find`` of every node of a compiled expression (this object's own, not its class's)
    so that each call spends one step and one per node it returns, from the budget of the
    outermost call."""
    from jsonpath_ng.jsonpath import JSONPath  # see _parser

    seen: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, JSONPath) or callable(getattr(node, "find", None)):
            node.find = _counted(node.find, expression)
        for value in vars(node).values():
            for item in value if isinstance(value, (list, tuple)) else (value,):
                if hasattr(item, "find") and hasattr(item, "__dict__"):
                    pending.append(item)


def _counted(find: Callable[[Any], Any], expression: str) -> Callable[[Any], Any]:
    def find_counted(datum: Any) -> Any:
        remaining = _remaining.get()
        if remaining is None:  # the outermost call: a fresh budget for this evaluation
            limit = max_jsonpath_work()
            token = _remaining.set([limit])
            try:
                return find_counted(datum)
            finally:
                _remaining.reset(token)
        remaining[0] -= 1
        if remaining[0] < 0:
            raise JSONPathWorkExceeded(expression, max_jsonpath_work())
        found = find(datum)
        remaining[0] -= len(found) if isinstance(found, list) else 1
        if remaining[0] < 0:
            raise JSONPathWorkExceeded(expression, max_jsonpath_work())
        return found

    return find_counted


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
