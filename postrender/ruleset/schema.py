"""The rules-file format, declared once.

The loader validates against these definitions and ``velero-postrender schema`` turns the
same definitions into JSON Schema, so the documentation of the format and its checks
cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any, Mapping

PLACEHOLDER_PATTERN = r"^\s*\{\{\s*[A-Za-z_][A-Za-z0-9_.-]*\s*\}\}\s*$"
TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")
BOOLEAN_WORD_PATTERN = r"^(true|false|True|False|TRUE|FALSE|yes|no|Yes|No|on|off|1|0)$"
DNS_1123_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


@dataclass(frozen=True)
class Spec:
    """One node of the format: its JSON type and, for containers, what they hold."""
    type: str  # string | boolean | array | object | map | volume
    description: str = ""
    required: tuple[str, ...] = ()
    properties: Mapping[str, Spec] = field(default_factory=dict)
    items: Spec | None = None
    values: Spec | None = None
    enum: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()  # exactly one of these properties must be given
    min_items: int = 0
    default: Any = None
    hints: Mapping[str, str] = field(default_factory=dict)  # known wrong keys and what to use instead


def string(description: str, **kw: Any) -> Spec:
    return Spec("string", description, **kw)


def boolean(description: str, default: bool | None = None) -> Spec:
    return Spec("boolean", description, default=default)


def strings(description: str, **kw: Any) -> Spec:
    return Spec("array", description, items=Spec("string"), **kw)


def obj(description: str, properties: Mapping[str, Spec], **kw: Any) -> Spec:
    return Spec("object", description, properties=properties, **kw)


_COMMAND = {
    "command": Spec("array", "Command as an argv list, run without a shell.", items=Spec("string"), min_items=1),
    "script": string("Shell script, run as [shell, \"-c\", script]."),
    "shell": string("Shell that runs `script`.", default="/bin/sh"),
}
_EXEC_HOOK = {
    **_COMMAND,
    "container": string("Container the hook runs in; default: the rule's container."),
    "onError": string("What Velero does when the hook fails.", enum=("Continue", "Fail")),
}
BACKUP_HOOK = obj(
    "A backup hook (pre or post).",
    {**_EXEC_HOOK, "timeout": string("Positive Go duration the command may run, e.g. 30s, 3m, 1h30m.")},
    one_of=("command", "script"),
)
RESTORE_HOOK = obj(
    "A post-restore exec hook.",
    {
        **_EXEC_HOOK,
        "execTimeout": string("Positive Go duration the command may run (Velero's default: 30s)."),
        "waitTimeout": string("Positive Go duration to wait for the container, counted from the pod's creation "
                              "(so including the file-system restore); unset, Velero waits for ever."),
        "waitForReady": boolean("Wait until the container is ready (Velero >= 1.13)."),
    },
    one_of=("command", "script"),
    hints={"timeout": "Velero ignores a timeout on restore hooks: use execTimeout (how long the command may run) "
                      "or waitTimeout (how long to wait for the container)"},
)
INIT_HOOK = obj(
    "An init restore hook: a container Velero adds to the restored pod.",
    {
        **_COMMAND,
        "image": string("Image of the init container."),
        "name": string("Name of the init container (a DNS-1123 label); leave it out: a fixed name is added "
                       "again on every restore, so restoring an already restored pod fails."),
    },
    required=("image",),
    one_of=("command", "script"),
    hints={key: "Velero gives an init restore container only image, name and command"
           for key in ("container", "onError", "timeout", "execTimeout", "waitTimeout", "waitForReady")},
)

MATCH = obj(
    "Selectors; all given must hold, at least one is required.",
    {
        "kinds": strings("Exact kinds, e.g. StatefulSet."),
        "names": strings("Globs on metadata.name; any may match."),
        "namespaces": strings("Globs on metadata.namespace; any may match."),
        "labels": Spec("map", "Labels that must all be present with these values.", values=Spec("string")),
        "images": strings("Regular expressions searched in each container image; any container."),
        "jsonpath": string("JSONPath over the list of all resources; a match selects its resource."),
    },
)

SCRATCH = obj(
    "A scratch volume for dumps, mounted in every container a hook of the rule runs in.",
    {
        "name": string("Pod volume name.", default="velero-scratch"),
        "mountPath": string("Where it is mounted."),
        "volume": Spec("volume", "Any pod volume source; default emptyDir: {}. An emptyDir takes medium "
                       "(\"\" or Memory) and sizeLimit (a Kubernetes quantity)."),
        "backup": boolean("List it in backup.velero.io/backup-volumes.", default=True),
    },
    required=("mountPath",),
)

RULE = obj(
    "One rule: what it matches and what it adds to the matched pod templates.",
    {
        "name": string("Unique name of the rule across everything loaded."),
        "description": string("What the rule is for (free text)."),
        "enabled": boolean("Whether the rule runs; may be a placeholder.", default=True),
        "match": MATCH,
        "podTemplate": string("JSONPath to the pod template, only for kinds not known."),
        "container": string("Default container of the hooks."),
        "scratch": SCRATCH,
        "backupVolumes": strings("More pod volume names for backup.velero.io/backup-volumes."),
        "excludeVolumes": strings("Pod volume names for backup.velero.io/backup-volumes-excludes."),
        "overwrite": boolean("Replace conflicting Velero annotations already on the pod template.", default=False),
        "hooks": obj(
            "Velero hooks, one per phase.",
            {
                "preBackup": BACKUP_HOOK,
                "postBackup": BACKUP_HOOK,
                "postRestore": RESTORE_HOOK,
                "initRestore": INIT_HOOK,
            },
        ),
    },
    required=("name", "match"),
)

RULESET = obj(
    "A velero-postrender rules file.",
    {
        "apiVersion": string("Format version.", enum=("velero-postrender/v1",)),
        "kind": string("Always RuleSet.", enum=("RuleSet",)),
        "metadata": Spec("map", "Free-form information about the rule set (name, description).",
                         values=Spec("any")),
        "params": Spec("map", "Defaults of {{ name }} placeholders, overridable with --set.",
                       values=Spec("scalar")),
        "rules": Spec("array", "The rules.", items=RULE),
    },
    required=("apiVersion", "kind", "rules"),
)


# --- validation -----------------------------------------------------------------------

def dns_label_problem(value: str, what: str) -> str | None:
    """Why ``value`` cannot name a pod volume or a container (a DNS-1123 label), or None."""
    if re.match(DNS_1123_LABEL_PATTERN, value) and not value.endswith("\n"):
        return None
    return (f"{what} {value!r} is not a DNS-1123 label: at most 63 lower-case letters, digits and '-', "
            "starting and ending with a letter or digit")


@dataclass(frozen=True)
class Violation:
    path: tuple[str | int, ...]
    message: str
    hint: str | None = None


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and re.match(PLACEHOLDER_PATTERN, value) is not None


def type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "empty"}.get(type(value), type(value).__name__)


def validate(value: Any, spec: Spec, path: tuple[str | int, ...] = ()) -> list[Violation]:
    """Structural check of ``value`` against ``spec``: types, unknown and missing keys."""
    kind = spec.type
    if kind == "any":
        return []
    if kind == "scalar":
        if isinstance(value, (dict, list)) or value is None:
            return [Violation(path, f"must be a string, number or boolean, not {type_name(value)}")]
        return []
    if kind == "string":
        if not isinstance(value, str):
            return [Violation(path, f"must be a string, not {type_name(value)}",
                              "quote the value" if isinstance(value, (int, float, bool)) else None)]
        if spec.enum and value not in spec.enum and not _is_placeholder(value):
            return [Violation(path, f"must be one of {', '.join(spec.enum)}, not {value!r}")]
        return []
    if kind == "boolean":
        if isinstance(value, bool) or _is_placeholder(value):
            return []
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS + FALSE_WORDS:
            return []  # a value that came from --set or a quoted "true"
        return [Violation(path, f"must be true or false, not {value!r}")]
    if kind == "array":
        if not isinstance(value, list):
            return [Violation(path, f"must be a list, not {type_name(value)}")]
        if len(value) < spec.min_items:
            return [Violation(path, "must not be empty")]
        found: list[Violation] = []
        for index, item in enumerate(value):
            found.extend(validate(item, spec.items or Spec("any"), path + (index,)))
        return found
    if kind in ("map", "volume"):
        if not isinstance(value, dict):
            return [Violation(path, f"must be a mapping, not {type_name(value)}")]
        if kind == "volume":
            if len(value) != 1:
                return [Violation(path, "must name exactly one volume source, e.g. emptyDir: {}")]
            return []
        found = []
        for key, item in value.items():
            if not isinstance(key, str):
                found.append(Violation(path, f"key {key!r} must be a string"))
                continue
            found.extend(validate(item, spec.values or Spec("any"), path + (key,)))
        return found
    # object
    if not isinstance(value, dict):
        return [Violation(path, f"must be a mapping, not {type_name(value)}")]
    found = []
    for key in value:
        if key not in spec.properties:
            import difflib  # only for the "did you mean" of an unknown key

            close = difflib.get_close_matches(str(key), list(spec.properties), n=1, cutoff=0.6)
            hint = spec.hints.get(str(key)) or (
                f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(spec.properties)}")
            found.append(Violation(path + (str(key),), "unknown key", hint))
    for key in spec.required:
        if key not in value:
            found.append(Violation(path, f"missing required key {key!r}"))
    if spec.one_of:
        given = [key for key in spec.one_of if key in value]
        if len(given) != 1:
            found.append(Violation(path, f"needs exactly one of {' or '.join(spec.one_of)}"
                                   + (f", not {' and '.join(given)}" if given else "")))
    for key, item in value.items():
        if key in spec.properties:
            found.extend(validate(item, spec.properties[key], path + (key,)))
    return found


# --- JSON Schema ----------------------------------------------------------------------

def to_json_schema(spec: Spec = RULESET) -> dict[str, Any]:
    """JSON Schema 2020-12 of the rules format, for editors and CI checks."""
    schema = _json(spec)
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://velero-postrender.dev/schema/rules-v1.json",
        "title": "velero-postrender RuleSet",
        **schema,
    }
    return schema


def _json(spec: Spec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if spec.description:
        out["description"] = spec.description
    if spec.default is not None:
        out["default"] = spec.default
    kind = spec.type
    if kind == "string":
        out["type"] = "string"
        if spec.enum:
            out["anyOf"] = [{"enum": list(spec.enum)}, {"pattern": PLACEHOLDER_PATTERN}]
    elif kind == "boolean":
        out["anyOf"] = [
            {"type": "boolean"},
            {"type": "string", "pattern": PLACEHOLDER_PATTERN},
            {"type": "string", "pattern": BOOLEAN_WORD_PATTERN},
        ]
    elif kind == "scalar":
        out["type"] = ["string", "number", "boolean"]
    elif kind == "array":
        out["type"] = "array"
        out["items"] = _json(spec.items or Spec("any"))
        if spec.min_items:
            out["minItems"] = spec.min_items
    elif kind == "map":
        out["type"] = "object"
        out["additionalProperties"] = _json(spec.values or Spec("any"))
    elif kind == "volume":
        out["type"] = "object"
        out["minProperties"] = 1
        out["maxProperties"] = 1
    elif kind == "object":
        out["type"] = "object"
        out["properties"] = {key: _json(value) for key, value in spec.properties.items()}
        out["additionalProperties"] = False
        if spec.required:
            out["required"] = list(spec.required)
        if spec.one_of:
            out["oneOf"] = [{"required": [key]} for key in spec.one_of]
    return out
