"""Kubernetes resources found in parsed documents (a ``kind: List`` yields its items)."""

from __future__ import annotations

from dataclasses import dataclass

from postrender.errors import Location, Problem, error
from postrender.stream.split import Document

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any


@dataclass
class Resource:
    """One resource: a whole document, or one item of a ``kind: List`` document."""

    document: Document
    obj: dict[str, Any]
    item: int | None = None  # index in the List's items, None for a top-level resource

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.obj.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        meta = self.metadata
        return str(meta.get("name") or meta.get("generateName") or "")

    @property
    def namespace(self) -> str:
        value = self.metadata.get("namespace")
        return "" if value is None else str(value)

    @property
    def labels(self) -> dict[str, Any]:
        labels = self.metadata.get("labels")
        return labels if isinstance(labels, dict) else {}

    @property
    def label(self) -> str:
        """``Kind namespace/name`` as users read it in kubectl output."""
        name = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind or '(no kind)'} {name or '(no name)'}"

    def location(self, **extra: Any) -> Location:
        resource = self.label if self.item is None else f"{self.label}, List item {self.item + 1}"
        return Location(document=self.document.index, resource=resource, line=self.document.content_line, **extra)


def resources_of(document: Document) -> tuple[list[Resource], list[Problem]]:
    """The resources of one parsed document, or the reasons it is not a Kubernetes manifest."""
    data = document.data
    if data is None:
        return [], []
    where = Location(document=document.index, line=document.content_line)
    if not isinstance(data, dict):
        return [], [error(f"document is not a mapping but a {type(data).__name__}", where,
                          "every document must be one Kubernetes resource")]
    if data.get("kind") == "List" and "items" in data:
        items = data.get("items")
        if not isinstance(items, list):
            return [], [error("kind List: items is not a list", where)]
        found: list[Resource] = []
        problems: list[Problem] = []
        for number, item in enumerate(items):
            if not isinstance(item, dict):
                problems.append(error(f"kind List: item {number + 1} is not a mapping", where))
                continue
            resource = Resource(document, item, number)
            problems.extend(_check_identity(resource))
            found.append(resource)
        return found, problems
    resource = Resource(document, data)
    return [resource], _check_identity(resource)


def _check_identity(resource: Resource) -> list[Problem]:
    """Kind and name identify a resource in every message and every match: both must be strings."""
    where = resource.location()
    kind = resource.obj.get("kind")
    if not kind:
        return [error("resource has no kind", where)]
    if not isinstance(kind, str):
        return [error(f"kind is not a string but a {type(kind).__name__}", where)]
    meta = resource.obj.get("metadata")
    if not isinstance(meta, dict):
        what = "no metadata" if meta is None else f"metadata that is a {type(meta).__name__}, not a mapping"
        return [error(f"resource has {what}", where, "every resource needs metadata.name")]
    name = meta.get("name") or meta.get("generateName")
    if not name:
        return [error("resource has no metadata.name", where)]
    if not isinstance(name, str):
        return [error(f"metadata.name is not a string but a {type(name).__name__}", where)]
    namespace = meta.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        return [error(f"metadata.namespace is not a string but a {type(namespace).__name__}", where)]
    return []
