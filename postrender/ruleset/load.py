"""Turn rules files into a validated ``RuleSet``, collecting every problem with its place.

Order of work for each rule: structure (``schema.validate``), placeholders (params, then
``--set``), then typed values (booleans, durations, regular expressions, JSONPath).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from postrender.errors import Location, PostRenderError, Problem, error, warning
from postrender.ruleset import placeholders
from postrender.ruleset.durations import check_duration
from postrender.ruleset.jsonpaths import compile_jsonpath
from postrender.ruleset.model import (
    DEFAULT_ON_ERROR,
    BackupHook,
    Binding,
    Hook,
    InitRestoreHook,
    Match,
    Phase,
    Quoting,
    RestoreHook,
    Rule,
    RuleSet,
    Scratch,
    Template,
    Value,
)
from postrender.ruleset.quantities import quantity_problem
from postrender.ruleset.schema import FALSE_WORDS, RULESET, TRUE_WORDS, dns_label_problem, validate
from postrender.ruleset.yamlfile import line_of, load_rules_text, plain
from postrender.stream.screen import compile_pattern

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping, Sequence

    from postrender.ruleset.placeholders import Context
    from postrender.stream.resources import Resource

DEFAULT_SCRATCH_NAME = "velero-scratch"


@dataclass(frozen=True)
class RulesSource:
    """The text of one rules file and the name errors should use for it."""
    text: str
    name: str
    # A preset of this package. Its scripts' placeholder positions are proven safe by the tests
    # (test_presets.py), so the run skips the shell scanner for them: it costs about a millisecond
    # per script on every Helm call. Values are still quoted; only the position check is skipped.
    shipped: bool = False


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
        file_rules, file_problems, file_used = _load_file(data, source.name, settings, source.shipped)
        rules.extend(file_rules)
        problems.extend(file_problems)
        used |= file_used
    problems.extend(_duplicate_names(rules))
    if any(p.is_error for p in problems):
        raise PostRenderError(problems)
    unused = tuple(sorted(set(settings) - used))
    parameters = tuple(sorted(name for name in used if name not in placeholders.RESOURCE_BUILTINS))
    return RuleSet(tuple(rules), unused, parameters, tuple(problems))  # no error left: these are warnings


def _load_file(data: Any, source: str, settings: Mapping[str, str],
               shipped: bool = False) -> tuple[list[Rule], list[Problem], set[str]]:
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
        rule, rule_problems, rule_used = _load_rule(raw, source, values, shipped)
        problems.extend(rule_problems)
        used |= rule_used
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
        """A Go duration Velero reads as written: positive, at least 1ns, within int64 nanoseconds."""
        if value is None:
            return None
        found = check_duration(str(value))
        if found:
            self.fail(found.message, *path, hint=found.hint)
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
                images.append(compile_pattern(pattern))  # RE2: linear time, Go's syntax (stream.screen)
            except ValueError as exc:
                self.fail(f"invalid regular expression {pattern!r} (RE2 syntax, as Go's regexp): {exc}",
                          "match", "images", index)
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
        name = raw.get("name") or DEFAULT_SCRATCH_NAME
        reason = dns_label_problem(name, "volume name")
        if reason:
            self.fail(reason, "scratch", "name")
        volume = raw.get("volume") or {"emptyDir": {}}
        if "emptyDir" in volume:
            self.empty_dir(volume["emptyDir"], "scratch", "volume", "emptyDir")
        return Scratch(
            name=name,
            mount_path=mount_path,
            volume=plain(volume),
            backup=self.boolean(raw.get("backup"), "scratch", "backup", default=True),
        )

    def empty_dir(self, raw: Any, *path: str | int) -> None:
        """An emptyDir source as the API server takes it: a mapping of ``medium`` ("" or Memory
        here) and ``sizeLimit`` (a positive Kubernetes quantity)."""
        if raw is None:
            return
        if not isinstance(raw, dict):
            self.fail(f"emptyDir must be a mapping, not {raw!r}", *path, hint="e.g. emptyDir: {sizeLimit: 2Gi}")
            return
        for key in raw:
            if key not in ("medium", "sizeLimit"):
                self.fail(f"unknown emptyDir field {key!r}", *path, key, hint="emptyDir takes medium and sizeLimit")
        medium = raw.get("medium")
        if medium not in (None, "", "Memory"):
            self.fail(f"medium must be \"\" (the node's disk) or Memory, not {medium!r}", *path, "medium")
        if raw.get("sizeLimit") is not None:
            reason = quantity_problem(raw["sizeLimit"])
            if reason:
                self.fail(f"sizeLimit {reason}", *path, "sizeLimit", hint="a Kubernetes quantity, e.g. 512Mi or 2Gi")

    def init_container(self, raw: Mapping[str, Any], *path: str | int) -> None:
        """Velero adds the init restore container with only an image, a name and a command."""
        if not str(raw.get("image") or "").strip():
            self.fail("image is empty", *path, "image", hint="the image of the init container, e.g. busybox:1.36")
        name = raw.get("name")
        if name is not None:
            reason = dns_label_problem(str(name), "init container name")
            if reason:
                self.fail(reason, *path, "name", hint="or leave name out: Velero then generates a unique one")

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
        is_script = "script" in raw
        if phase is Phase.INIT_RESTORE:
            self.init_container(raw, *path)
            return InitRestoreHook(command, str(raw.get("image") or ""), raw.get("name"), is_script)
        if phase is Phase.POST_RESTORE:
            return RestoreHook(
                command, str(on_error), raw.get("container"),
                exec_timeout=self.duration(raw.get("execTimeout"), *path, "execTimeout"),
                wait_timeout=self.duration(raw.get("waitTimeout"), *path, "waitTimeout"),
                wait_for_ready=None if raw.get("waitForReady") is None else
                self.boolean(raw.get("waitForReady"), *path, "waitForReady", default=False),
                is_script=is_script,
            )
        return BackupHook(phase, command, str(on_error), raw.get("container"),
                          self.duration(raw.get("timeout"), *path, "timeout"), is_script)



def _field_lines(raw: Any) -> dict[str, int]:
    lines: dict[str, int] = {}

    def walk(node: Any, prefix: str) -> None:
        for key, line in getattr(node, "lines", {}).items():
            path = f"{prefix}.{key}" if prefix and isinstance(key, str) else (f"{prefix}[{key}]" if prefix else str(key))
            lines[path] = line
            walk(node[key], path)

    walk(raw, "")
    return lines


def _load_rule(raw: Any, source: str, values: Mapping[str, str],
               shipped: bool = False) -> tuple[Rule | None, list[Problem], set[str]]:
    name = raw["name"]
    builder = _RuleBuilder(raw, source, name)
    compiled = _Placeholders(raw, values, builder, check_positions=not shipped)
    resolved = compiled.resolve(raw, ())
    compiled.report_missing()
    if builder.problems:
        return None, builder.problems, compiled.used
    builder.raw = resolved
    rule_spec = RULESET.properties["rules"].items
    assert rule_spec is not None
    for violation in validate(resolved, rule_spec):  # enum checks after substitution
        builder.fail(violation.message, *violation.path, hint=violation.hint)
    if builder.problems:
        return None, builder.problems, compiled.used
    rule = builder.build()
    bound_later = {binding.field for binding in compiled.bindings}
    builder.problems = [p for p in builder.problems if p.location.field not in bound_later]  # checked once filled in
    if builder.problems:
        return None, builder.problems, compiled.used
    if compiled.bindings:
        rule = replace(rule, bindings=tuple(compiled.bindings))
    return rule, builder.problems, compiled.used


_RESOURCE = frozenset(placeholders.RESOURCE_BUILTINS)
_HOOK_TARGETS = {  # hook field -> (Hook attribute, check of the filled-in value)
    "container": ("container", None), "timeout": ("timeout", "duration"), "execTimeout": ("exec_timeout", "duration"),
    "waitTimeout": ("wait_timeout", "duration"), "image": ("image", "image"), "name": ("name", "init container name"),
}


class _Placeholders:
    """Fills params and ``--set`` values into a raw rule, each quoted for where it lands
    (``placeholders.compile_text``), and keeps the fields with resource placeholders as
    ``Binding`` templates. Problems go to the builder, at the field's line."""

    def __init__(self, raw: Any, values: Mapping[str, str], builder: _RuleBuilder, check_positions: bool = True):
        self.raw = raw
        self.values = {key: value for key, value in values.items() if key not in _RESOURCE}
        self.builder = builder
        self.check_positions = check_positions  # False for shipped presets (see RulesSource.shipped)
        self.used: set[str] = set()
        self.missing: dict[str, tuple[str | int, ...]] = {}  # name -> first field that uses it
        self.bindings: list[Binding] = []

    def resolve(self, value: Any, path: tuple[str | int, ...]) -> Any:
        if isinstance(value, str):
            if "{{" not in value:
                return value
            context: Context = "script" if len(path) == 3 and path[0] == "hooks" and path[2] == "script" else "text"
            template = self.compile(value, path, context)
            if not template.slots:
                return template.source
            self.bind(path, (template,), is_list=False)
            return template.source
        if isinstance(value, list) and len(path) == 3 and path[0] == "hooks" and path[2] == "command":
            return _same_marks(value, self.command(value, path))
        if isinstance(value, dict):
            return _same_marks(value, {key: self.resolve(item, path + (key,)) for key, item in value.items()})
        if isinstance(value, list):
            return _same_marks(value, [self.resolve(item, path + (index,)) for index, item in enumerate(value)])
        return value

    def command(self, argv: list[Any], path: tuple[str | int, ...]) -> list[Any]:
        """A command list: each element filled in as text; ``{{ x | words }}`` gives one element per word."""
        resolved: list[Any] = []
        templates: list[Template] = []
        for index, item in enumerate(argv):
            if not isinstance(item, str) or "{{" not in item:
                resolved.append(item)
                templates.append(Template((item,)))
                continue
            template = self.compile(item, path + (index,), "argv")
            slots = template.slots
            if len(slots) == 1 and slots[0].quoting is Quoting.ARGV_WORDS and slots[0].name in self.values:
                words = placeholders.elements(template, self.values)
                resolved.extend(words)
                templates.extend(Template((word,)) for word in words)
            else:
                resolved.append(template.source)
                templates.append(template)
        if any(template.slots for template in templates):
            self.bind(path, tuple(templates), is_list=True)
        return resolved

    def compile(self, text: str, path: tuple[str | int, ...], context: Context) -> Template:
        """The template with every value it can have now filled in; problems reported."""
        template, issues = placeholders.compile_text(text, context, self.check_positions)
        for issue in issues:
            self.builder.fail(issue.message, *path, hint=issue.hint)
        for slot in template.slots:
            self.used.add(slot.name)
            if slot.name not in self.values and slot.name not in _RESOURCE:
                self.missing.setdefault(slot.name, path)
        return placeholders.fill(template, self.values)

    def bind(self, path: tuple[str | int, ...], templates: tuple[Template, ...], is_list: bool) -> None:
        if not any(slot.name in _RESOURCE for template in templates for slot in template.slots):
            return  # only missing names left: reported by report_missing
        if path == ("description",):
            return  # free text: a resource placeholder stays as written
        target = _binding_target(self.raw, path)
        if target is None:
            builtin = next(slot.source for template in templates for slot in template.slots if slot.name in _RESOURCE)
            self.builder.fail(f"{builtin} cannot be used here", *path,
                              hint="resource placeholders work in hooks, scratch, container and volume lists")
            return
        self.bindings.append(Binding(target[0], _dotted(path), line_of(self.raw, path), templates, is_list, target[1]))

    def report_missing(self) -> None:
        for name, path in sorted(self.missing.items()):
            self.builder.fail(f"placeholder {{{{ {name} }}}} has no value", *path,
                              hint=f"add it to params or pass --set {name}=VALUE")


def _binding_target(raw: Any, path: tuple[str | int, ...]) -> tuple[tuple[str | int, ...], str | None] | None:
    """Where a field with resource placeholders goes in the ``Rule``, and the check of its value;
    None for a field where they cannot be used."""
    if path == ("container",):
        return ("container",), None
    if path == ("scratch", "name"):
        return ("scratch", "name"), "volume name"
    if path == ("scratch", "mountPath"):
        return ("scratch", "mount_path"), "absolute path"
    if path[:2] == ("scratch", "volume") and len(path) > 2:
        return ("scratch", "volume", *path[2:]), {"sizeLimit": "quantity", "medium": "medium"}.get(str(path[-1]))
    if len(path) == 2 and path[0] in ("backupVolumes", "excludeVolumes"):
        return ("backup_volumes" if path[0] == "backupVolumes" else "exclude_volumes", path[1]), "volume name"
    if len(path) == 3 and path[0] == "hooks":
        index = list(raw["hooks"]).index(path[1])
        if path[2] == "script":
            return ("hooks", index, "command", 2), "script"
        if path[2] == "shell":
            return ("hooks", index, "command", 0), None
        if path[2] == "command":
            return ("hooks", index, "command"), "command"
        if path[2] in _HOOK_TARGETS:
            attribute, check = _HOOK_TARGETS[str(path[2])]
            return ("hooks", index, attribute), check
    return None


def _same_marks(original: Any, content: Any) -> Any:
    """A copy of a rules-file container with new content and the same line marks."""
    if type(original) in (dict, list):
        return content
    copy = type(original)(content)
    copy.__dict__.update(getattr(original, "__dict__", {}))
    if isinstance(content, list) and len(content) != len(original):  # a command list whose | words changed its length
        copy.lines = {index: line for index, line in getattr(original, "lines", {}).items() if index < len(content)}
    return copy


def _medium_problem(value: str) -> str | None:
    return None if value in ("", "Memory") else f"medium must be \"\" (the node's disk) or Memory, not {value!r}"


def _quantity_problem(value: str) -> str | None:
    reason = quantity_problem(value)
    return f"sizeLimit {reason}" if reason else None


def _duration_problem(value: str) -> str | None:
    found = check_duration(value)
    return found.message if found else None


# What a filled-in value must be, by Binding.check: the load-time checks of the fields that can
# hold resource placeholders, applied again once the resource's name and namespace are in.
BIND_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "script": lambda value: None if value.strip() else "script is empty",
    "command": lambda value: None if value else "command is empty",
    "duration": _duration_problem,
    "absolute path": lambda value: None if value.startswith("/") else f"mountPath {value!r} must be an absolute path",
    "volume name": lambda value: dns_label_problem(value, "volume name"),
    "init container name": lambda value: dns_label_problem(value, "init container name"),
    "image": lambda value: None if value.strip() else "image is empty",
    "quantity": _quantity_problem,
    "medium": _medium_problem,
}


def bind_to_resource(rule: Rule, resource: Resource) -> tuple[Rule | None, list[Problem]]:
    """The rule with ``{{ resource.name }}``/``{{ resource.namespace }}`` filled in for one
    resource, or None and the located problems when a filled-in value is not valid (an empty
    script, a volume name or duration that became invalid...).

    Only the compiled ``Binding`` templates are filled in (``dataclasses.replace`` along each
    binding's target) and only their values are checked: the rules are not loaded again.
    """
    if not rule.bindings:
        return rule, []
    values = {"resource.name": resource.name, "resource.namespace": resource.namespace}
    bound = rule
    problems: list[Problem] = []
    at = resource.location()
    for binding in rule.bindings:
        value: Any
        if binding.is_list:
            value = tuple(item for template in binding.templates for item in placeholders.elements(template, values))
        else:
            value = placeholders.render(binding.templates[0], values)
        reason = BIND_CHECKS[binding.check](value) if binding.check else None
        if reason:
            where = Location(file=rule.source, line=binding.line, rule=rule.name, field=binding.field,
                             document=at.document, resource=at.resource)
            problems.append(error(f"{reason} (after filling in the resource placeholders)", where))
            continue
        bound = _set_in(bound, binding.target, value)
    if problems:
        return None, problems
    return replace(bound, bindings=()), []


def _set_in(container: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """A copy of ``container`` (a frozen dataclass, a ``Value``, a tuple or a dict) with ``value`` at ``path``."""
    if not path:
        return value
    step, rest = path[0], path[1:]
    if isinstance(container, tuple) and isinstance(step, int):
        return container[:step] + (_set_in(container[step], rest, value),) + container[step + 1:]
    if isinstance(container, list) and isinstance(step, int):
        return container[:step] + [_set_in(container[step], rest, value)] + container[step + 1:]
    if isinstance(container, dict):
        return {**container, step: _set_in(container[step], rest, value)}
    changes = {str(step): _set_in(getattr(container, str(step)), rest, value)}
    return container.replace(**changes) if isinstance(container, Value) else replace(container, **changes)


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
