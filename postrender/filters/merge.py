"""Merge one rule into one matched pod template.

Everything is checked before anything is written, so a rule that fails leaves the
template as it was. The ``Ledger`` remembers which rule set which hook phase on which pod
template, because Velero runs one command per phase and two rules must not both claim it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from postrender.errors import Problem, error, warning
from postrender.filters import velero
from postrender.filters.podtemplate import containers_of, init_containers_of
from postrender.ruleset.model import Hook, InitRestoreHook, Phase, Rule
from postrender.ruleset.quantities import parse_quantity
from postrender.ruleset.yamlfile import plain
from postrender.stream.resources import Resource

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any


@dataclass
class Effect:
    """What one rule did to one resource, for ``explain`` and the library result."""

    rule: str
    resource: Resource
    annotations: dict[str, str] = field(default_factory=dict)
    volumes: list[str] = field(default_factory=list)
    mounts: list[tuple[str, str]] = field(default_factory=list)  # (container, mountPath)
    removed: list[str] = field(default_factory=list)  # annotations of a phase that overwrite: true replaced

    @property
    def changed(self) -> bool:
        return bool(self.annotations or self.volumes or self.mounts or self.removed)


@dataclass
class Ledger:
    """Which rule claimed which hook phase on which pod template during this run."""

    claims: dict[tuple[int, Phase], str] = field(default_factory=dict)

    def claim(self, template: dict[str, Any], phase: Phase, rule: str) -> str | None:
        """Record the claim; return the rule that claimed it before, if another did."""
        key = (id(template), phase)
        previous = self.claims.get(key)
        if previous is None:
            self.claims[key] = rule
            return None
        return previous if previous != rule else None


def apply_rule(rule: Rule, resource: Resource, template: dict[str, Any], ledger: Ledger) -> tuple[Effect, list[Problem]]:
    """Merge ``rule`` into ``template`` in place; problems instead of partial writes."""
    plan = _Plan(rule, resource, template)
    plan.check(ledger)
    if any(p.is_error for p in plan.problems):
        return Effect(rule.name, resource), plan.problems
    return plan.write(), plan.problems


class _Plan:
    def __init__(self, rule: Rule, resource: Resource, template: dict[str, Any]):
        self.rule = rule
        self.resource = resource
        self.template = template
        self.problems: list[Problem] = []
        spec = template.get("spec")
        self.spec: dict[str, Any] = spec if isinstance(spec, dict) else {}
        self.containers = containers_of(template)
        self.main_container: str | None = None
        self.hook_containers: dict[Phase, str] = {}
        self.annotations: dict[str, str] = {}
        self.remove: list[str] = []
        self.add_volume = False
        self.mount_in: list[dict[str, Any]] = []

    def fail(self, message: str, field_path: str | None = None, hint: str | None = None) -> None:
        self.problems.append(error(message, self._where(field_path), hint))

    def warn(self, message: str, field_path: str | None = None, hint: str | None = None) -> None:
        self.problems.append(warning(message, self._where(field_path), hint))

    def _where(self, field_path: str | None) -> Any:
        return self.resource.location(rule=self.rule.name, field=field_path)

    # --- checks -------------------------------------------------------------------------

    def check(self, ledger: Ledger) -> None:
        if not isinstance(self.template.get("spec"), dict) or not self.containers:
            self.fail("the pod template has no spec.containers")
            return
        self.main_container = self._resolve_main_container()
        if self.main_container is None:
            return
        for hook in self.rule.hooks:
            self._check_hook(hook, ledger)
        self._check_scratch()
        self._plan_volume_lists()
        self._plan_hook_annotations()
        self._warn_environment()
        self._warn_memory()

    def _names(self) -> list[str]:
        return [str(c.get("name")) for c in self.containers]

    def _resolve_main_container(self) -> str | None:
        names = self._names()
        if self.rule.container is not None:
            if self.rule.container in names:
                return self.rule.container
            self._container_missing(self.rule.container, "container")
            return None
        for container in self.containers:
            image = str(container.get("image", ""))
            if any(p.search(image) for p in self.rule.match.images):
                return str(container.get("name"))
        return names[0]

    def _container_missing(self, name: str, field_path: str) -> None:
        init_names = [str(c.get("name")) for c in init_containers_of(self.template)]
        what = "is an init container" if name in init_names else "is not in spec.containers"
        self.fail(f"container {name!r} {what}; hooks run only in spec.containers: {', '.join(self._names())}",
                  field_path)

    def _check_hook(self, hook: Hook, ledger: Ledger) -> None:
        field_path = f"hooks.{hook.phase.key}"
        previous = ledger.claim(self.template, hook.phase, self.rule.name)
        if previous is not None:
            self.fail(f"rules {previous!r} and {self.rule.name!r} both set the {hook.phase.key} hook "
                      "on this pod template", field_path, "Velero runs one command per phase: merge them into one rule")
        if isinstance(hook, InitRestoreHook):
            self._check_init_name(hook, field_path)
            return
        container = hook.container or self.main_container
        assert container is not None
        if container not in self._names():
            self._container_missing(container, f"{field_path}.container")
            return
        self.hook_containers[hook.phase] = container

    def _check_init_name(self, hook: InitRestoreHook, field_path: str) -> None:
        """Velero prepends the init restore container on every restore and names it
        ``velero-restore-init-<random>`` unless the annotation fixes a name."""
        if not hook.name:
            return
        taken = set(self._names()) | {str(c.get("name")) for c in init_containers_of(self.template)}
        if hook.name in taken:
            self.fail(f"init restore container name {hook.name!r} is already a container of the pod",
                      f"{field_path}.name", "container names must be unique in a pod: choose another or leave name out")
            return
        self.warn(f"the init restore container gets the fixed name {hook.name!r}: Velero adds it again on every "
                  "restore, so restoring a backup of an already restored pod fails with \"Duplicate value\"",
                  f"{field_path}.name", "leave name out: Velero then generates a unique velero-restore-init-* name")

    def _check_scratch(self) -> None:
        scratch = self.rule.scratch
        if scratch is None:
            return
        volumes = self.spec.get("volumes") or []
        existing = next((v for v in volumes if isinstance(v, dict) and v.get("name") == scratch.name), None)
        wanted = {"name": scratch.name, **scratch.volume}
        if existing is None:
            self.add_volume = True
        elif dict(existing) != wanted:
            self.fail(f"pod volume {scratch.name!r} already exists with another definition", "scratch.volume",
                      "choose another scratch.name or make the definitions equal")
        for container in self.containers:
            if str(container.get("name")) not in set(self.hook_containers.values()):
                continue
            mounts = container.get("volumeMounts") or []
            at_path = [m for m in mounts if isinstance(m, dict) and m.get("mountPath") == scratch.mount_path]
            if not at_path:
                self.mount_in.append(container)
            elif any(m.get("name") != scratch.name for m in at_path):
                other = next(m.get("name") for m in at_path if m.get("name") != scratch.name)
                self.fail(f"container {container.get('name')!r} already mounts volume {other!r} at "
                          f"{scratch.mount_path}", "scratch.mountPath", "choose another mountPath")

    def _pod_volume_names(self) -> set[str]:
        names = {str(v.get("name")) for v in self.spec.get("volumes") or [] if isinstance(v, dict)}
        if self.rule.scratch is not None:
            names.add(self.rule.scratch.name)
        if self.resource.kind == "StatefulSet":
            spec = self.resource.obj.get("spec") or {}
            for claim in spec.get("volumeClaimTemplates") or []:
                if isinstance(claim, dict) and isinstance(claim.get("metadata"), dict):
                    names.add(str(claim["metadata"].get("name")))
        return names

    def _check_volume_sources(self, names: tuple[str, ...]) -> None:
        """File-system backup never copies hostPath volumes; since Velero 1.14 it skips the
        volumes Kubernetes fills from API objects too (those objects are backed up as resources)."""
        by_name = {str(v.get("name")): v for v in self.spec.get("volumes") or [] if isinstance(v, dict)}
        for name in names:
            volume = by_name.get(name) or {}
            if "hostPath" in volume:
                self.fail(f"volume {name!r} is a hostPath volume, which Velero never backs up", "backupVolumes",
                          "copy the data into a volume Velero can back up, e.g. with a preBackup hook")
            source = next((k for k in ("configMap", "secret", "projected", "downwardAPI") if k in volume), None)
            if source is not None:
                self.warn(f"volume {name!r} is a {source} volume, which Velero 1.14 and later skip in file-system "
                          "backups", "backupVolumes", "the object it comes from is backed up as a resource: leave it out")

    def _mounted_volume_names(self) -> set[str]:
        """Volumes a ``spec.containers`` container mounts once the plan is written: Velero's
        file-system backup skips any other."""
        mounted = {str(m.get("name")) for c in self.containers for m in c.get("volumeMounts") or [] if isinstance(m, dict)}
        if self.rule.scratch is not None and self.mount_in:
            mounted.add(self.rule.scratch.name)
        return mounted

    def _plan_volume_lists(self) -> None:
        rule = self.rule
        add_backup = list(rule.backup_volumes)
        if rule.scratch is not None and rule.scratch.backup:
            add_backup.insert(0, rule.scratch.name)
        known = self._pod_volume_names()
        for field_path, names in (("backupVolumes", rule.backup_volumes), ("excludeVolumes", rule.exclude_volumes)):
            for name in names:
                if name not in known:
                    self.fail(f"volume {name!r} is not a volume of the pod", field_path,
                              f"pod volumes: {', '.join(sorted(known)) or '(none)'}; "
                              "use pod volume names, not PVC names")
        self._check_volume_sources(rule.backup_volumes)
        mounted = self._mounted_volume_names()
        for field_path, name in [("backupVolumes", n) for n in rule.backup_volumes if n in known] + (
                [("scratch", rule.scratch.name)] if rule.scratch is not None and rule.scratch.backup else []):
            if name not in mounted:
                self.fail(f"volume {name!r} is mounted by no container in spec.containers, so Velero would skip it "
                          "without a word", field_path,
                          "give the rule a hook: the scratch volume is mounted in the containers the rule's hooks "
                          "run in" if field_path == "scratch" else
                          "mount it in one of the pod's containers, or leave it out")
        current = self._current_annotations()
        backup = _union(velero.split_volume_list(current.get(velero.BACKUP_VOLUMES)), add_backup)
        excludes = _union(velero.split_volume_list(current.get(velero.BACKUP_VOLUMES_EXCLUDES)),
                          list(rule.exclude_volumes))
        for name in sorted(set(backup) & set(excludes)):
            self.fail(f"volume {name!r} would be in both {velero.BACKUP_VOLUMES} and "
                      f"{velero.BACKUP_VOLUMES_EXCLUDES}", "excludeVolumes")
        if add_backup:
            self._want(velero.BACKUP_VOLUMES, velero.join_volume_list(backup), merged=True)
        if rule.exclude_volumes:
            self._want(velero.BACKUP_VOLUMES_EXCLUDES, velero.join_volume_list(excludes), merged=True)

    def _plan_hook_annotations(self) -> None:
        """A hook owns its whole phase: keys of the phase the hook does not write would change
        what Velero runs (a chart's ``timeout`` beside our command), so they are a conflict, or
        removed with ``overwrite: true``."""
        current = self._current_annotations()
        for hook in self.rule.hooks:
            if not isinstance(hook, InitRestoreHook) and hook.phase not in self.hook_containers:
                continue
            wanted = velero.hook_annotations(hook, self.hook_containers.get(hook.phase))
            for key, value in wanted.items():
                self._want(key, value, field_path=f"hooks.{hook.phase.key}")
            stale = [key for key in velero.phase_keys(current, hook.phase) if key not in wanted]
            if stale and self.rule.overwrite:
                self.remove.extend(stale)
            elif stale:
                self.fail(f"the pod template already has {', '.join(f'{k}={current[k]!r}' for k in stale)}, which "
                          f"would apply to the rule's {hook.phase.key} hook", f"hooks.{hook.phase.key}",
                          "set the same value in the rule, or overwrite: true to replace the whole phase")

    def _current_annotations(self) -> dict[str, Any]:
        metadata = self.template.get("metadata")
        annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
        return annotations if isinstance(annotations, dict) else {}

    def _want(self, key: str, value: str, merged: bool = False, field_path: str = "hooks") -> None:
        existing = self._current_annotations().get(key)
        if existing is None:
            self.annotations[key] = value
        elif velero.same_value(key, existing, value):
            return
        elif merged or self.rule.overwrite:
            self.annotations[key] = value
        else:
            self.fail(f"annotation {key} is already {existing!r} on the pod template, the rule would write "
                      f"{value!r}", field_path, "set overwrite: true on the rule to replace the whole phase")

    # --- warnings ------------------------------------------------------------------------

    def _warn_environment(self) -> None:
        by_name = {str(c.get("name")): c for c in self.containers}
        for hook in self.rule.hooks:
            container = by_name.get(self.hook_containers.get(hook.phase, ""))  # exec hooks only: init hooks have none
            if container is None or container.get("envFrom") or "-c" not in hook.command:
                continue
            script = hook.command[hook.command.index("-c") + 1] if hook.command.index("-c") + 1 < len(hook.command) else ""
            defined = {str(e.get("name")) for e in container.get("env") or [] if isinstance(e, dict)}
            missing = sorted(undefined_variables(script) - defined)
            if missing:
                self.warn(f"the hook uses ${', $'.join(missing)}, which container {container.get('name')!r} does not "
                          "define in env", f"hooks.{hook.phase.key}",
                          "the image may set it; otherwise add it to the container's env")

    def _warn_memory(self) -> None:
        scratch = self.rule.scratch
        empty_dir = scratch.volume.get("emptyDir") if scratch else None
        if not isinstance(empty_dir, dict) or empty_dir.get("medium") != "Memory":
            return
        size = parse_quantity(empty_dir.get("sizeLimit"))
        container = next((c for c in self.containers if c.get("name") == self.main_container), {})
        limits = (container.get("resources") or {}).get("limits") or {}
        limit = parse_quantity(limits.get("memory"))
        if size is not None and limit is not None and size > limit:
            self.warn(f"the Memory scratch volume's sizeLimit {empty_dir.get('sizeLimit')} is above container "
                      f"{self.main_container!r}'s memory limit {limits.get('memory')}", "scratch.volume",
                      "a dump that fills it gets the pod OOM-killed: lower sizeLimit or use a disk-backed volume")

    # --- write ---------------------------------------------------------------------------

    def write(self) -> Effect:
        effect = Effect(self.rule.name, self.resource)
        scratch = self.rule.scratch
        if self.annotations:
            metadata = _ensure_first(self.template, "metadata")
            annotations = metadata.get("annotations")
            if not isinstance(annotations, dict):
                annotations = metadata["annotations"] = {}
            annotations.update(self.annotations)
            effect.annotations = dict(self.annotations)
        if self.remove:
            annotations = self._current_annotations()
            for key in self.remove:
                annotations.pop(key, None)
            effect.removed = list(self.remove)
        if scratch is not None and self.add_volume:
            volumes = self.spec.get("volumes")
            if not isinstance(volumes, list):
                volumes = self.spec["volumes"] = []
            volumes.append({"name": scratch.name, **plain(scratch.volume)})
            effect.volumes.append(scratch.name)
        if scratch is not None:
            for container in self.mount_in:
                mounts = container.get("volumeMounts")
                if not isinstance(mounts, list):
                    mounts = container["volumeMounts"] = []
                mounts.append({"name": scratch.name, "mountPath": scratch.mount_path})
                effect.mounts.append((str(container.get("name")), scratch.mount_path))
        return effect


def _union(first: list[str], more: list[str]) -> list[str]:
    result = list(dict.fromkeys(first))
    for name in more:
        if name not in result:
            result.append(name)
    return result


def _ensure_first(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    """``mapping[key]`` as a dict, created as the first key when missing (metadata leads)."""
    value = mapping.get(key)
    if isinstance(value, dict):
        return value
    rest = [(k, v) for k, v in mapping.items() if k != key]
    mapping.clear()
    mapping[key] = value = {}
    mapping.update(rest)
    return value



_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(\}|[:\-=+?#%/])|([A-Za-z_][A-Za-z0-9_]*))")
_ASSIGNED = re.compile(r"(?:^|[\s;&|(`])(?:export\s+|local\s+|readonly\s+)?([A-Za-z_][A-Za-z0-9_]*)=")
_LOOP_OR_READ = re.compile(r"\b(?:for|read(?:\s+-[a-z]+)*)\s+([A-Za-z_][A-Za-z0-9_]*)")
_ALWAYS_SET = {"HOME", "PATH", "HOSTNAME", "PWD", "OLDPWD", "USER", "SHELL", "IFS", "RANDOM", "LINENO",
               "OPTARG", "OPTIND", "PPID", "UID", "EUID", "TERM", "TMPDIR", "LANG"}


def undefined_variables(script: str) -> set[str]:
    """Shell variables a script reads without a default and does not set itself."""
    used: set[str] = set()
    for braced, after, bare in _VARIABLE.findall(script):
        if braced and after != "}":
            continue  # ${VAR:-default} and friends handle a missing value
        used.add(braced or bare)
    assigned = set(_ASSIGNED.findall(script)) | set(_LOOP_OR_READ.findall(script))
    return used - assigned - _ALWAYS_SET
