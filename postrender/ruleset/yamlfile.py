"""Read a rules file as plain data that remembers the line of every key.

Rules are data only: safe loading, no tag constructs an object, duplicate keys are an
error (a second ``command:`` silently winning is how a hook goes missing).
"""

from __future__ import annotations

import yaml

from postrender.errors import Location, PostRenderError, error
from postrender.limits import DEFAULT_LIMITS
from postrender.stream.parse import StructureError, check_structure

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any

try:
    _Base: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Base = yaml.SafeLoader


class MarkedDict(dict):  # type: ignore[type-arg]
    """A mapping that knows the line of each of its keys (``lines``) and its own ``line``."""
    line: int = 0
    lines: dict[Any, int]


class MarkedList(list):  # type: ignore[type-arg]
    line: int = 0
    lines: dict[int, int]


class DuplicateKey(yaml.MarkedYAMLError):
    pass


class RulesLoader(_Base):  # type: ignore[misc]
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> MarkedDict:
        self.flatten_mapping(node)
        result = MarkedDict()
        result.line = node.start_mark.line + 1
        result.lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise yaml.constructor.ConstructorError(None, None, "a key must be a scalar", key_node.start_mark)
            if key in result:
                raise DuplicateKey(None, None, f"duplicate key {key!r}", key_node.start_mark)
            result[key] = self.construct_object(value_node, deep=True)
            result.lines[key] = key_node.start_mark.line + 1
        return result

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> MarkedList:
        result = MarkedList(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.lines = {index: child.start_mark.line + 1 for index, child in enumerate(node.value)}
        return result


RulesLoader.add_constructor("tag:yaml.org,2002:map", RulesLoader.construct_mapping)
RulesLoader.add_constructor("tag:yaml.org,2002:seq", RulesLoader.construct_sequence)


def load_rules_text(text: str, source: str) -> Any:
    """Parse the text of a rules file; errors carry the file and line."""
    try:
        check_structure(text, DEFAULT_LIMITS)  # nesting and aliases bounded, as for manifests
        return yaml.load(text, Loader=RulesLoader)  # noqa: S506 - a safe loader
    except StructureError as exc:
        line = exc.mark.line + 1 if exc.mark is not None else None
        raise PostRenderError([error(exc.message, Location(file=source, line=line))]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "invalid YAML"
        if "could not determine a constructor" in str(message):
            message = f"tag {str(message).split('tag ', 1)[-1]} is not allowed: rules files are data only"
        raise PostRenderError([error(message, Location(file=source, line=mark.line + 1 if mark else None))]) from None
    except yaml.YAMLError as exc:
        raise PostRenderError([error(f"invalid YAML: {exc}", Location(file=source))]) from None
    except Exception as exc:  # noqa: BLE001 - PyYAML's constructors raise bare errors on odd values (``!!int``)
        raise PostRenderError([error(f"cannot read rules file: {type(exc).__name__}: {exc}",
                                     Location(file=source))]) from None


def line_of(data: Any, path: tuple[str | int, ...]) -> int | None:
    """The line of the deepest key of ``path`` that the data remembers."""
    line = getattr(data, "line", None) or None
    node = data
    for step in path:
        lines = getattr(node, "lines", None)
        if lines is None:
            break
        if step in lines:
            line = lines[step]
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
        line = getattr(node, "line", None) or line
        if step in lines:  # the key's own line, also when its value is a block mapping or list below it
            line = lines[step]
    return line


def plain(value: Any) -> Any:
    """A deep copy of loaded YAML data as plain dicts and lists (the rules' line marks dropped; a
    manifest's data copied, so that what is merged into one pod never aliases another)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
