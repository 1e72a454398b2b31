"""Where a resource keeps its pod template, by kind."""

from __future__ import annotations

from postrender.ruleset.jsonpaths import compile_jsonpath

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any


POD_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


class TemplateNotFound(Exception):
    """The reason a pod template could not be located (turned into a located problem)."""


def find_pod_template(obj: dict[str, Any], kind: str, expression: str | None) -> dict[str, Any]:
    """The pod template mapping ({metadata, spec}) of ``obj``; raise TemplateNotFound with why."""
    if expression is not None:
        return _by_jsonpath(obj, expression)
    path = POD_TEMPLATE_PATHS.get(kind)
    if path is None:
        raise TemplateNotFound(f"kind {kind} has no known pod template: give the rule a podTemplate JSONPath")
    node: Any = obj
    for step in path:
        node = node.get(step) if isinstance(node, dict) else None
        if node is None:
            raise TemplateNotFound(f"{kind} has no {'.'.join(path)}")
    if not isinstance(node, dict):
        raise TemplateNotFound(f"{kind}: {'.'.join(path) or 'the object'} is not a mapping")
    return node


def _by_jsonpath(obj: dict[str, Any], expression: str) -> dict[str, Any]:
    found = [datum.value for datum in compile_jsonpath(expression).find(obj)]
    if not found:
        raise TemplateNotFound(f"podTemplate {expression!r} finds nothing in this resource")
    if len(found) > 1:
        raise TemplateNotFound(f"podTemplate {expression!r} finds {len(found)} nodes, it must find one")
    if not isinstance(found[0], dict):
        raise TemplateNotFound(f"podTemplate {expression!r} finds a {type(found[0]).__name__}, not a mapping")
    return found[0]


def containers_of(template: dict[str, Any]) -> list[dict[str, Any]]:
    spec = template.get("spec")
    containers = spec.get("containers") if isinstance(spec, dict) else None
    return [c for c in containers if isinstance(c, dict)] if isinstance(containers, list) else []


def init_containers_of(template: dict[str, Any]) -> list[dict[str, Any]]:
    spec = template.get("spec")
    containers = spec.get("initContainers") if isinstance(spec, dict) else None
    return [c for c in containers if isinstance(c, dict)] if isinstance(containers, list) else []
