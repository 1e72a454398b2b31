"""``{{ name }}`` placeholders in rules: params, ``--set`` values and resource built-ins.

Only this exact form is a placeholder; ``$VAR`` and ``${VAR}`` are shell variables of the
pod and pass through untouched.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")
RESOURCE_BUILTINS = ("resource.name", "resource.namespace")


def names_in(value: Any) -> set[str]:
    """Every placeholder name used anywhere in a nested value."""
    found: set[str] = set()
    _walk(value, lambda text: found.update(PLACEHOLDER.findall(text)) or text)
    return found


def substitute(value: Any, values: Mapping[str, str], keep: tuple[str, ...] = ()) -> Any:
    """A copy of ``value`` with placeholders replaced; names in ``keep`` stay as written.

    Callers check for unknown names first (``names_in``), so a missing name here is a bug.
    """

    def replace(text: str) -> str:
        return PLACEHOLDER.sub(lambda m: m.group(0) if m.group(1) in keep else str(values[m.group(1)]), text)

    return _walk(value, replace)


def _walk(value: Any, on_string: Callable[[str], Any]) -> Any:
    if isinstance(value, str):
        return on_string(value) if "{{" in value else value
    if isinstance(value, dict):
        return type(value)({key: _walk(item, on_string) for key, item in value.items()}) if _plain(value) else \
            _copy_marked(value, {key: _walk(item, on_string) for key, item in value.items()})
    if isinstance(value, list):
        items = [_walk(item, on_string) for item in value]
        return _copy_marked(value, items) if not _plain(value) else items
    return value


def _plain(value: Any) -> bool:
    return type(value) in (dict, list)


def _copy_marked(original: Any, content: Any) -> Any:
    """Keep the line marks of the rules loader's containers on the substituted copy."""
    copy = type(original)(content)
    copy.__dict__.update(getattr(original, "__dict__", {}))
    return copy
