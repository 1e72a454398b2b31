"""Turn rules files into a validated ``RuleSet``, collecting every problem with its place.

Order of work for each rule: structure (``schema.validate``), placeholders (params, then
``--set``), then typed values (booleans, durations, regular expressions, JSONPath).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from postrender.errors import Location, PostRenderError, Problem, error, warning
from postrender.ruleset import placeholders
from postrender.ruleset.durations import duration_problem
from postrender.ruleset.model import DEFAULT_ON_ERROR, Hook, Match, Phase, Rule, RuleSet, Scratch
from postrender.ruleset.schema import FALSE_WORDS, RULESET, TRUE_WORDS, validate
from postrender.ruleset.yamlfile import line_of, load_rules_text

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any, Mapping, Sequence

    from postrender.stream.resources import Resource

DEFAULT_SCRATCH_NAME = "velero-scratch"


@dataclass(frozen=True)
class RulesSource:
    """The text of one rules file and the name errors should use for it."""

    text: str
    name: str


def load_ruleset(sources: Sequence[RulesSource], settings: Mapping[str, str] | None = None) -> RuleSet:
    """Load and validate every source; raise ``PostRenderError`` listing all problems."""
    settings = dict(settings or {})
    problems: list[Problem] = []
    rules: list[Rule] = []
    used: set[str] = set()
    for source in sources:
        try:
            data = load_rules_text(source.text, source.name)
        except PostRenderError as exc:
            problems.extend(exc.problems)
            continue
        file_rules, file_problems, file_used = _load_file(data, source.name, settings)
        rules.extend(file_rules)
        problems.extend(file_problems)
        used |= file_used
    problems.extend(_duplicate_names(rules))
    if any(p.is_error for p in problems):
        raise PostRenderError(problems)
    unused = tuple(sorted(set(settings) - used))
    return RuleSet(tuple(rules), unused)


def _load_file(data: Any, source: str, settings: Mapping[str, str]) -> tuple[list[Rule], list[Problem], set[str]]:
    if data is None:
        return [], [error("rules file is empty", Location(file=source))], set()
    violations = validate(data, RULESET)
    problems = [_violation_problem(data, source, v.path, v.message, v.hint) for v in violations]
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        return [], problems, set()
    broken = {v.path[1] for v in violations if len(v.path) > 1 and v.path[0] == "rules"}
    if any(len(v.path) < 2 or v.path[0] != "rules" for v in violations):
        return [], problems, set()
    params = {str(k): _scalar_text(v) for k, v in (data.get("params") or {}).items()}
    values = {**params, **settings}
    rules: list[Rule] = []
    used: set[str] = set()
    for index, raw in enumerate(data["rules"]):
        if index in broken:
            continue
        rule, rule_problems, rule_used = _load_rule(raw, source, values)
        problems.extend(rule_problems)
        used |= rule_used & set(settings)
        if rule is not None:
            rules.append(rule)
    if not data["rules"]:
        problems.append(warning("rules file has no rules", Location(file=source, line=line_of(data, ("rules",)))))
    return rules, problems, used


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _violation_problem(data: Any, source: str, path: tuple[str | int, ...], message: str, hint: str | None) -> Problem:
    rule = None
    field_path = path
    if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
        raw = data["rules"][path[1]]
        name = raw.get("name") if isinstance(raw, dict) else None
        rule = name if isinstance(name, str) else f"#{path[1] + 1}"
        field_path = path[2:]
    where = Location(file=source, line=line_of(data, path), rule=rule, field=_dotted(field_path) or None)
    return error(message, where, hint)


def _dotted(path: tuple[str | int, ...]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


class _RuleBuilder:
    """Builds one ``Rule`` from its raw mapping, recording problems at their lines."""

    def __init__(self, raw: Any, source: str, name: str):
        self.raw = raw
        self.source = source
        self.name = name
        self.problems: list[Problem] = []

    def where(self, *path: str | int) -> Location:
        return Location(file=self.source, line=line_of(self.raw, path), rule=self.name, field=_dotted(path) or None)

    def fail(self, message: str, *path: str | int, hint: str | None = None) -> None:
        self.problems.append(error(message, self.where(*path), hint))

    def boolean(self, value: Any, *path: str | int, default: bool) -> bool:
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in TRUE_WORDS:
            return True
        if text in FALSE_WORDS:
            return False
        self.fail(f"{value!r} is not a boolean", *path, hint="use true or false")
        return default

    def duration(self, value: Any, *path: str | int) -> str | None:
        if value is None:
            return None
        reason = duration_problem(str(value))
        if reason:
            self.fail(reason, *path, hint="e.g. 30s, 3m, 1h30m")
            return None
        return str(value)

    def build(self) -> Rule:
        raw = self.raw
        enabled = self.boolean(raw.get("enabled"), "enabled", default=True)
        match = self.match(raw["match"])
        scratch = self.scratch(raw.get("scratch"))
        hooks = tuple(self.hook(Phase.by_key(key), spec) for key, spec in (raw.get("hooks") or {}).items())
        pod_template = raw.get("podTemplate")
        if pod_template is not None:
            self.jsonpath(pod_template, "podTemplate")
        backup = tuple(raw.get("backupVolumes") or ())
        excluded = tuple(raw.get("excludeVolumes") or ())
        for name in sorted(set(backup) & set(excluded)):
            self.fail(f"volume {name!r} is both in backupVolumes and excludeVolumes", "excludeVolumes")
        if scratch and scratch.backup and scratch.name in excluded:
            self.fail(f"the scratch volume {scratch.name!r} is backed up and excluded", "excludeVolumes",
                      hint="set scratch.backup: false to exclude it")
        if not hooks and scratch is None and not backup and not excluded:
            self.fail("the rule adds nothing", hint="give hooks, scratch, backupVolumes or excludeVolumes")
        return Rule(
            name=self.name,
            source=self.source,
            line=getattr(raw, "line", None),
            match=match,
            enabled=enabled,
            pod_template=pod_template,
            container=raw.get("container"),
            scratch=scratch,
            backup_volumes=backup,
            exclude_volumes=excluded,
            overwrite=self.boolean(raw.get("overwrite"), "overwrite", default=False),
            hooks=hooks,
            description=str(raw.get("description") or ""),
            field_lines=_field_lines(raw),
            raw=raw,
        )

    def match(self, raw: Mapping[str, Any]) -> Match:
        if not raw:
            self.fail("needs at least one selector", "match",
                      hint="kinds, names, namespaces, labels, images or jsonpath")
        images = []
        for index, pattern in enumerate(raw.get("images") or ()):
            try:
                images.append(re.compile(pattern))
            except re.error as exc:
                self.fail(f"invalid regular expression {pattern!r}: {exc}", "match", "images", index)
        expression = raw.get("jsonpath")
        if expression is not None:
            self.jsonpath(expression, "match", "jsonpath")
        return Match(
            kinds=tuple(raw.get("kinds") or ()),
            names=tuple(raw.get("names") or ()),
            namespaces=tuple(raw.get("namespaces") or ()),
            labels=tuple((str(k), str(v)) for k, v in (raw.get("labels") or {}).items()),
            images=tuple(images),
            jsonpath=expression,
        )

    def jsonpath(self, expression: str, *path: str | int) -> None:
        from postrender.ruleset.jsonpaths import compile_jsonpath

        try:
            compile_jsonpath(expression)
        except ValueError as exc:
            self.fail(f"invalid JSONPath {expression!r}: {exc}", *path)

    def scratch(self, raw: Mapping[str, Any] | None) -> Scratch | None:
        if raw is None:
            return None
        mount_path = raw["mountPath"]
        if not mount_path.startswith("/"):
            self.fail(f"mountPath {mount_path!r} must be an absolute path", "scratch", "mountPath")
        volume = raw.get("volume") or {"emptyDir": {}}
        return Scratch(
            name=raw.get("name") or DEFAULT_SCRATCH_NAME,
            mount_path=mount_path,
            volume=_plain(volume),
            backup=self.boolean(raw.get("backup"), "scratch", "backup", default=True),
        )

    def hook(self, phase: Phase, raw: Mapping[str, Any]) -> Hook:
        path = ("hooks", phase.key)
        if "script" in raw:
            script = raw["script"]
            if not script.strip():
                self.fail("script is empty", *path, "script")
            command: tuple[str, ...] = (raw.get("shell") or "/bin/sh", "-c", script)
        else:
            command = tuple(raw.get("command") or ())
            if "shell" in raw:
                self.fail("shell is only used with script", *path, "shell")
        on_error = raw.get("onError") or DEFAULT_ON_ERROR.get(phase)
        if on_error not in (None, "Continue", "Fail"):
            self.fail(f"onError must be Continue or Fail, not {on_error!r}", *path, "onError")
        return Hook(
            phase=phase,
            command=command,
            container=raw.get("container"),
            on_error=on_error if phase is not Phase.INIT_RESTORE else None,
            timeout=self.duration(raw.get("timeout"), *path, "timeout"),
            exec_timeout=self.duration(raw.get("execTimeout"), *path, "execTimeout"),
            wait_timeout=self.duration(raw.get("waitTimeout"), *path, "waitTimeout"),
            wait_for_ready=None if raw.get("waitForReady") is None else
            self.boolean(raw.get("waitForReady"), *path, "waitForReady", default=False),
            image=raw.get("image"),
            init_name=raw.get("name"),
            is_script="script" in raw,
        )


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _field_lines(raw: Any) -> dict[str, int]:
    lines: dict[str, int] = {}

    def walk(node: Any, prefix: str) -> None:
        for key, line in getattr(node, "lines", {}).items():
            path = f"{prefix}.{key}" if prefix and isinstance(key, str) else (f"{prefix}[{key}]" if prefix else str(key))
            lines[path] = line
            walk(node[key], path)

    walk(raw, "")
    return lines


def _load_rule(raw: Any, source: str, values: Mapping[str, str]) -> tuple[Rule | None, list[Problem], set[str]]:
    name = raw["name"]
    builder = _RuleBuilder(raw, source, name)
    used = placeholders.names_in(raw)
    for placeholder in sorted(used - set(values) - set(placeholders.RESOURCE_BUILTINS)):
        path = _path_of_placeholder(raw, placeholder) or ()
        builder.fail(f"placeholder {{{{ {placeholder} }}}} has no value", *path,
                     hint=f"add it to params or pass --set {placeholder}=VALUE")
    for key in ("name", "enabled", "match"):
        builtins = placeholders.names_in(raw.get(key)) & set(placeholders.RESOURCE_BUILTINS)
        if builtins:
            builder.fail(f"{{{{ {sorted(builtins)[0]} }}}} cannot be used here", key,
                         hint="resource placeholders work in hooks, scratch and volume lists")
    if builder.problems:
        return None, builder.problems, used
    resolved = placeholders.substitute(raw, values, keep=placeholders.RESOURCE_BUILTINS)
    builder.raw = resolved
    violations = validate(resolved, RULESET.properties["rules"].items)  # enum checks after substitution
    for violation in violations:
        builder.fail(violation.message, *violation.path, hint=violation.hint)
    if builder.problems:
        return None, builder.problems, used
    rule = builder.build()
    if builder.problems:
        return None, builder.problems, used
    uses_resource = bool(used & set(placeholders.RESOURCE_BUILTINS))
    if uses_resource:
        rule = Rule(**{**rule.__dict__, "uses_resource": True})
    return rule, builder.problems, used


def bind_to_resource(rule: Rule, resource: Resource) -> tuple[Rule | None, list[Problem]]:
    """The rule with ``{{ resource.name }}``/``{{ resource.namespace }}`` filled in for one
    resource, or None and the located problems when the filled-in rule is not valid (an empty
    script, a duration that became invalid...)."""
    if not rule.uses_resource:
        return rule, []
    values = {"resource.name": resource.name, "resource.namespace": resource.namespace}
    raw = placeholders.substitute(rule.raw, values)
    builder = _RuleBuilder(raw, rule.source, rule.name)
    bound = builder.build()
    if builder.problems:
        at = resource.location()
        return None, [replace(p, location=replace(p.location, document=at.document, resource=at.resource),
                              message=f"{p.message} (after filling in the resource placeholders)")
                      for p in builder.problems]
    return replace(bound, enabled=rule.enabled, uses_resource=False), []


def _path_of_placeholder(value: Any, placeholder: str, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    if isinstance(value, str):
        return path if placeholder in placeholders.PLACEHOLDER.findall(value) else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _path_of_placeholder(item, placeholder, path + (key,))
        if found is not None:
            return found
    return None


def _duplicate_names(rules: list[Rule]) -> list[Problem]:
    seen: dict[str, Rule] = {}
    problems: list[Problem] = []
    for rule in rules:
        first = seen.get(rule.name)
        if first is None:
            seen[rule.name] = rule
            continue
        problems.append(error(
            f"rule name is already used at {first.source}:{first.line}",
            Location(file=rule.source, line=rule.line, rule=rule.name, field="name"),
            "rule names must be unique across all rules files and presets",
        ))
    return problems
