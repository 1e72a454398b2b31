"""Velero resource policies (``volumePolicies``): which pod volumes a policy keeps out of file-system backup.

Velero (1.14+) decides every pod volume's fate by its volume policies before it looks at the
``backup.velero.io/backup-volumes`` annotation: the first policy whose conditions all hold
wins, and any action but ``fs-backup`` means the volume is not copied by file-system backup
(an ``emptyDir`` cannot be snapshotted either, so it is simply not backed up). A policy such
as ``volumeTypes: [emptyDir]`` -> ``skip`` therefore drops the scratch volume a rule adds,
silently.

This module reads a policies document the way Velero does (a ConfigMap with exactly one data
key, or the bare YAML), validates it like Velero (``version: v1``, known condition keys,
action types, capacity ranges), and evaluates its conditions against pod volumes with three
answers: holds, does not hold, or unknown (what depends on the PersistentVolume behind a
claim). ``volume_problems`` (lint, on the rules) and ``run_problems`` (explain, the root
command, on rendered manifests) report every volume a policy would skip, with the policy's
line.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import yaml

from postrender.errors import Location, PostRenderError, Problem, Severity
from postrender.filters import velero
from postrender.filters.podtemplate import TemplateNotFound, find_pod_template
from postrender.ruleset.quantities import parse_quantity
from postrender.ruleset.yamlfile import load_rules_text, plain
from postrender.stream.reader import read_file

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping

    from postrender.filters.merge import Effect
    from postrender.ruleset.model import RuleSet
    from postrender.stream.resources import Resource

ACTIONS = ("skip", "fs-backup", "snapshot", "custom")
CONDITION_KEYS = ("capacity", "storageClass", "nfs", "csi", "volumeTypes", "pvcLabels", "pvcPhase")
TOP_LEVEL_KEYS = ("version", "volumePolicies", "includeExcludePolicy")

# Velero's names of pod volume sources, in the order it tests them (the first one present wins)
POD_VOLUME_TYPES = (
    ("awsElasticBlockStore", "awsElasticBlockStore"), ("azureDisk", "azureDisk"), ("azureFile", "azureFile"),
    ("cephfs", "cephfs"), ("cinder", "cinder"), ("csi", "csi"), ("fc", "fc"), ("flocker", "flocker"),
    ("flexVolume", "flexVolume"), ("gcePersistentDisk", "gcePersistentDisk"), ("gitRepo", "gitRepo"),
    ("glusterfs", "glusterfs"), ("iscsi", "iscsi"), ("nfs", "nfs"), ("secret", "secret"), ("rbd", "rbd"),
    ("downwardAPI", "downwardAPI"), ("configMap", "configMap"), ("projected", "projected"),
    ("ephemeral", "ephemeral"), ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"), ("quobyte", "quobyte"), ("scaleIO", "scaleIO"),
    ("storageos", "storageOS"), ("vsphereVolume", "vsphereVolume"), ("hostPath", "hostPath"),
    ("emptyDir", "emptyDir"),
)
# types a PersistentVolume can never have: a claim's volume never matches them
POD_ONLY_TYPES = frozenset({"configMap", "downwardAPI", "emptyDir", "ephemeral", "gitRepo", "projected", "secret"})
KNOWN_TYPES = frozenset(name for _, name in POD_VOLUME_TYPES) | {"awsAzureDisk", "local"}


# --- the document ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class VolumePolicy:
    """One entry of ``volumePolicies``: conditions (all must hold) and an action."""

    index: int
    action: str
    conditions: Mapping[str, Any]
    line: int | None  # in the policies file
    capacity: tuple[float, float] | None = None  # bytes (lower, upper); 0 = open end

    def skips(self, claim: bool | None) -> bool:
        """True when the action keeps the volume out of file-system backup with nothing else saving it.

        For a claim, ``snapshot`` and ``custom`` still save the data (a volume snapshot, a plugin);
        for a volume whose source is unknown (None) only ``skip`` is sure to lose it.
        """
        if self.action == "fs-backup":
            return False
        return self.action == "skip" or claim is False

    def describe(self) -> str:
        parts = []
        for key in CONDITION_KEYS:
            if key in self.conditions:
                value = self.conditions[key]
                shown = ", ".join(map(str, value)) if isinstance(value, list) else value
                parts.append(f"{key}: {shown if shown not in ({}, None) else '{}'}")
        return "; ".join(parts) or "no conditions"


@dataclass(frozen=True)
class ResourcePolicies:
    source: str  # the file, for messages
    policies: tuple[VolumePolicy, ...]

    def where(self, policy: VolumePolicy) -> str:
        return f"{self.source}:{policy.line}" if policy.line else f"{self.source} (volumePolicies[{policy.index}])"

    def decide(self, volume: VolumeFacts) -> Decision | None:
        """The policy that keeps ``volume`` out of the backup (certainly or possibly), else None.

        Velero uses the first policy whose conditions all hold. A policy that may hold (it depends
        on what only the cluster knows) and would skip the volume makes the verdict "possibly".
        """
        uncertain = False
        for policy in self.policies:
            holds = matches(policy, volume)
            if holds is False:
                continue
            if policy.skips(volume.claim):
                return Decision(policy, certain=holds is True and not uncertain)
            if holds is True:
                return None
            uncertain = True
        return None


@dataclass(frozen=True)
class Decision:
    policy: VolumePolicy
    certain: bool


def read_policies(path: str, max_bytes: int) -> ResourcePolicies:
    """Read a policies file (ConfigMap or bare YAML) through the bounded reader; located errors."""
    return parse_policies(read_file(path, max_bytes, "Velero resource policies file"), path)


def parse_policies(text: str, source: str) -> ResourcePolicies:
    """Parse and validate a policies document as Velero would; ``PostRenderError`` lists every problem."""
    data = load_rules_text(text, source)
    to_file: Callable[[int | None], int | None] = _same_line
    if isinstance(data, dict) and data.get("kind") == "ConfigMap":
        inner, to_file = _configmap_data(text, data, source)
        try:
            data = load_rules_text(inner, source)
        except PostRenderError as exc:
            raise PostRenderError([_moved(problem, to_file) for problem in exc.problems]) from None
    problems: list[Problem] = []
    policies = _policies_of(data, source, problems)
    if problems:
        raise PostRenderError([_moved(problem, to_file) for problem in problems])
    return ResourcePolicies(source, tuple(replace(policy, line=to_file(policy.line)) for policy in policies))


def _same_line(line: int | None) -> int | None:
    return line


def _moved(problem: Problem, to_file: Callable[[int | None], int | None]) -> Problem:
    return replace(problem, location=replace(problem.location, line=to_file(problem.location.line)))


def _configmap_data(text: str, data: Any, source: str) -> tuple[str, Callable[[int | None], int | None]]:
    """The one data value of a ConfigMap, and how a line of that value maps to a line of the file.

    A literal block (``|``) keeps its lines, one below the other after the indicator; any other
    scalar style folds or escapes them, so its problems are reported at the data key's line.
    """
    values = data.get("data")
    if not isinstance(values, dict) or len(values) != 1:
        raise PostRenderError([_error(
            "a Velero resource policies ConfigMap must have exactly one data key (Velero refuses it otherwise)",
            source, getattr(values, "line", None) or getattr(data, "line", None))])
    key, value = next(iter(values.items()))
    key_line: int | None = getattr(values, "lines", {}).get(key)
    if not isinstance(value, str):
        raise PostRenderError([_error(f"data.{key} must be a string holding the policies YAML", source, key_line)])
    node = yaml.compose(text, Loader=yaml.SafeLoader)  # the text was bounded by load_rules_text already
    first = next((value_node.start_mark.line + 1 for key_node, value_node in _mapping_items(node, "data")
                  if key_node.value == key and getattr(value_node, "style", None) == "|"), None)
    if first is not None:  # the line of the indicator, 1-based; the text starts on the line below
        return value, lambda line: None if line is None else line + first
    return value, lambda line: key_line


def _mapping_items(node: Any, key: str) -> list[tuple[Any, Any]]:
    if not isinstance(node, yaml.MappingNode):
        return []
    for key_node, value_node in node.value:
        if getattr(key_node, "value", None) == key and isinstance(value_node, yaml.MappingNode):
            return list(value_node.value)
    return []


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _error(message: str, source: str, line: int | None, hint: str | None = None) -> Problem:
    return Problem(Severity.ERROR, message, Location(file=source, line=line), hint)


def _policies_of(data: Any, source: str, problems: list[Problem]) -> list[VolumePolicy]:
    def line(node: Any, key: Any = None) -> int | None:
        found = node.lines.get(key) if key is not None and hasattr(node, "lines") else getattr(node, "line", None)
        return found if isinstance(found, int) and found > 0 else None

    def fail(message: str, node: Any, key: Any = None, hint: str | None = None) -> None:
        problems.append(_error(message, source, line(node, key), hint))

    if not isinstance(data, dict):
        fail("a Velero resource policies document must be a mapping (version: v1, volumePolicies: [...])", data)
        return []
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            fail(f"unknown key {key!r}: Velero refuses the whole document", data, key,
                 f"known keys: {', '.join(TOP_LEVEL_KEYS)}")
    if data.get("version") != "v1":
        fail(f"version must be v1, not {data.get('version')!r}: Velero refuses the document", data,
             "version" if "version" in data else None)
    raw_policies = data.get("volumePolicies") or []
    if not isinstance(raw_policies, list):
        fail("volumePolicies must be a list", data, "volumePolicies")
        return []
    policies: list[VolumePolicy] = []
    for index, raw in enumerate(raw_policies):
        policy_line = line(raw_policies, index)
        if not isinstance(raw, dict):
            problems.append(_error(f"volumePolicies[{index}] must be a mapping", source, policy_line))
            continue
        for key in raw:
            if key not in ("conditions", "action"):
                fail(f"volumePolicies[{index}]: unknown key {key!r}", raw, key, "known keys: conditions, action")
        action = raw.get("action")
        action_type = action.get("type") if isinstance(action, dict) else None
        if action_type not in ACTIONS:
            fail(f"volumePolicies[{index}].action.type must be one of {', '.join(ACTIONS)}, not {action_type!r}",
                 action if isinstance(action, dict) else raw, "type" if isinstance(action, dict) else "action")
            continue
        conditions = raw.get("conditions") or {}
        if not isinstance(conditions, dict):
            fail(f"volumePolicies[{index}].conditions must be a mapping", raw, "conditions")
            continue
        capacity = _conditions_problems(conditions, index, fail)
        if capacity is not False:
            policies.append(VolumePolicy(index, str(action_type), plain(conditions), policy_line,
                                         capacity if isinstance(capacity, tuple) else None))
    return policies


def _conditions_problems(conditions: Mapping[str, Any], index: int, fail: Any) -> tuple[float, float] | bool:
    """Validate the conditions like Velero's strict decoder; the parsed capacity, or False when invalid."""
    ok = True
    where = f"volumePolicies[{index}].conditions"
    for key, value in conditions.items():
        if key not in CONDITION_KEYS:
            fail(f"{where}: unknown condition {key!r}", conditions, key, f"known: {', '.join(CONDITION_KEYS)}")
            ok = False
        elif key in ("storageClass", "volumeTypes", "pvcPhase") and not (
                isinstance(value, list) and all(isinstance(v, str) for v in value)):
            fail(f"{where}.{key} must be a list of strings", conditions, key)
            ok = False
        elif key in ("nfs", "csi") and not isinstance(value, dict) and value is not None:
            fail(f"{where}.{key} must be a mapping", conditions, key)
            ok = False
        elif key == "pvcLabels" and not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
            fail(f"{where}.pvcLabels must be a map of string to string", conditions, key)
            ok = False
        elif key == "csi" and isinstance(value, dict) and not value.get("driver") and value.get("volumeAttributes"):
            fail(f"{where}.csi: driver must not be empty when filtering by volumeAttributes", conditions, key)
            ok = False
        elif key == "volumeTypes":
            for name in value:
                if name not in KNOWN_TYPES:
                    fail(f"{where}.volumeTypes: {name!r} is not a volume type Velero knows (it never matches)",
                         conditions, key, "e.g. emptyDir, csi, nfs, persistentVolumeClaim volumes match by their PV")
    capacity = _capacity(conditions.get("capacity"))
    if isinstance(capacity, str):
        fail(f"{where}.capacity: {capacity}", conditions, "capacity", 'e.g. "0,100Gi", "10Gi,", "1Gi,10Gi"')
        return False
    return capacity if ok else False


def _capacity(value: Any) -> tuple[float, float] | str:
    """``"lower,upper"`` in bytes (an empty end is 0), or the reason it is invalid."""
    text = "," if value in (None, "") else value
    if not isinstance(text, str):
        return f"must be a string like \"0,100Gi\", not {value!r}"
    ends = text.split(",")
    if len(ends) != 2:
        return f"wrong format {value!r}: two quantities separated by a comma"
    quantities: list[float] = []
    for end in ends:
        if not end.strip():
            quantities.append(0.0)
            continue
        parsed = parse_quantity(end.strip())
        if parsed is None:
            return f"{end.strip()!r} is not a quantity"
        quantities.append(parsed)
    lower, upper = quantities
    if not (upper >= lower or (lower != 0 and upper == 0)):
        return f"illegal range {value!r}: the upper end is below the lower end"
    return lower, upper



# --- matching ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class VolumeFacts:
    """What Velero's policy matching reads from a pod volume; None is "unknown here"."""

    name: str
    type: str | None  # Velero's type name; None for a claim (the PersistentVolume's type) or an unknown source
    claim: bool | None = False  # a persistentVolumeClaim (or volumeClaimTemplates) volume; None: source unknown
    capacity: float | None = 0.0  # bytes; pod volumes count as 0, a claim's PV is unknown
    storage_class: str | None = ""
    nfs: Mapping[str, Any] | None = None
    csi: Mapping[str, Any] | None = None
    pvc_labels: Mapping[str, str] | None = field(default_factory=dict)
    pvc_phase: str | None = ""

    @property
    def label(self) -> str:
        if self.claim is None:
            return "its source is not known here"
        return "a PersistentVolumeClaim" if self.claim else (self.type or "an unknown source")


def facts_of_volume(volume: Mapping[str, Any], name: str | None = None) -> VolumeFacts:
    """The facts of a pod volume definition (``{name, emptyDir: {}}``, or just the source)."""
    volume_name = str(name if name is not None else volume.get("name", ""))
    claim = volume.get("persistentVolumeClaim")
    if isinstance(claim, dict):
        return claim_facts(volume_name)
    kind = next((velero_name for key, velero_name in POD_VOLUME_TYPES if volume.get(key) is not None), "")
    nfs = volume.get("nfs") if isinstance(volume.get("nfs"), dict) else None
    csi = volume.get("csi") if isinstance(volume.get("csi"), dict) else None
    return VolumeFacts(volume_name, kind, nfs=nfs, csi=csi, pvc_labels=None)


def claim_facts(name: str, claim: Mapping[str, Any] | None = None) -> VolumeFacts:
    """A claim's volume: the PVC's labels and storage class when the claim is known, the rest unknown."""
    if claim is None:
        return VolumeFacts(name, None, claim=True, capacity=None, storage_class=None, pvc_labels=None, pvc_phase=None)
    metadata = _mapping(claim.get("metadata"))
    spec = _mapping(claim.get("spec"))
    labels = _mapping(metadata.get("labels"))
    storage_class = spec.get("storageClassName")
    return VolumeFacts(name, None, claim=True, capacity=None,
                       storage_class=storage_class if isinstance(storage_class, str) and storage_class else None,
                       pvc_labels={str(k): str(v) for k, v in labels.items()}, pvc_phase=None)


def matches(policy: VolumePolicy, volume: VolumeFacts) -> bool | None:
    """Whether every condition holds (True), one fails (False), or it depends on the cluster (None)."""
    verdicts = [_capacity_holds(policy.capacity, volume.capacity)]
    conditions = policy.conditions
    classes = conditions.get("storageClass") or []
    if classes:
        verdicts.append(None if volume.storage_class is None else volume.storage_class in classes)
    if "nfs" in conditions and conditions["nfs"] is not None:
        verdicts.append(_source_holds(conditions["nfs"], volume.nfs, volume.claim, ("server", "path")))
    if "csi" in conditions and conditions["csi"] is not None:
        verdicts.append(_csi_holds(conditions["csi"], volume.csi, volume.claim))
    types = conditions.get("volumeTypes") or []
    if types:
        if volume.type is not None:
            verdicts.append(volume.type in types)
        else:
            verdicts.append(False if volume.claim and all(t in POD_ONLY_TYPES for t in types) else None)
    labels = conditions.get("pvcLabels") or {}
    if labels:
        present = volume.pvc_labels
        if present is None:
            verdicts.append(False if volume.claim is False else None)  # a pod volume has no claim, so no labels
        else:
            verdicts.append(bool(present) and all(present.get(k) == v for k, v in labels.items()))
    phases = conditions.get("pvcPhase") or []
    if phases:
        verdicts.append(None if volume.pvc_phase is None else volume.pvc_phase in phases)
    if False in verdicts:
        return False
    return None if None in verdicts else True


def _capacity_holds(capacity: tuple[float, float] | None, size: float | None) -> bool | None:
    lower, upper = capacity or (0.0, 0.0)
    if lower == 0 and upper == 0:
        return True
    if size is None:
        return None
    if lower == 0:
        return upper >= size
    if upper == 0:
        return lower <= size
    return lower <= size <= upper


def _source_holds(wanted: Mapping[str, Any], actual: Mapping[str, Any] | None, claim: bool | None,
                  keys: tuple[str, ...]) -> bool | None:
    if actual is None:
        return False if claim is False else None
    return all(not wanted.get(key) or wanted.get(key) == actual.get(key) for key in keys)


def _csi_holds(wanted: Mapping[str, Any], actual: Mapping[str, Any] | None, claim: bool | None) -> bool | None:
    if actual is None:
        return False if claim is False else None
    driver = wanted.get("driver")
    if not driver:
        return True
    if driver != actual.get("driver"):
        return False
    attributes = wanted.get("volumeAttributes") or {}
    present = actual.get("volumeAttributes") or {}
    return all(present.get(key) == value for key, value in attributes.items())


# --- problems ---------------------------------------------------------------------------------

def skip_problem(policies: ResourcePolicies, decision: Decision, volume: VolumeFacts, role: str,
                 location: Location, severity: Severity = Severity.WARNING) -> Problem:
    """The located problem for one volume a policy keeps out of the backup.

    ``role`` says what the volume is for, e.g. "the scratch volume" or "backupVolumes volume".
    """
    policy = decision.policy
    verb = "skips" if decision.certain else "may skip"
    how = "is not backed up" if policy.action == "skip" else \
        f"is not copied by file-system backup (action {policy.action})"
    condition = "" if decision.certain else f" if it matches {policy.describe()}"
    message = (f"the Velero volume policy at {policies.where(policy)} {verb} {role} {volume.name!r} "
               f"({volume.label}){condition}: it {how}, whatever backup.velero.io/backup-volumes says")
    hint = ("volume policies come first; put a policy with action fs-backup that matches this volume before "
            "it, or narrow that policy's conditions")
    return Problem(severity, message, location, hint)


def run_problems(policies: ResourcePolicies, ruleset: RuleSet, resources: list[Resource], effects: list[Effect],
                 severity: Severity = Severity.WARNING) -> list[Problem]:
    """Every volume of a changed pod template that the rules list for backup and a policy skips.

    The pipeline calls it when ``Options.velero_policy`` is set (``--strict`` makes them errors).
    Volumes are looked up in the pod template (after the rules were merged), in a
    StatefulSet's ``volumeClaimTemplates``, and claims in the PersistentVolumeClaims of the same
    stream; only certain verdicts and those that depend on the cluster are reported.
    """
    rules = {rule.name: rule for rule in ruleset.rules}
    claims = {(r.namespace, r.name): r.obj for r in resources if r.kind == "PersistentVolumeClaim"}
    problems: list[Problem] = []
    seen: set[tuple[int, str]] = set()
    for effect in effects:
        rule = rules.get(effect.rule)
        if rule is None or not effect.changed:
            continue
        resource = effect.resource
        try:
            template = find_pod_template(resource.obj, resource.kind, rule.pod_template)
        except TemplateNotFound:
            continue
        metadata = _mapping(template.get("metadata"))
        annotations = _mapping(metadata.get("annotations"))
        listed = velero.split_volume_list(annotations.get(velero.BACKUP_VOLUMES))
        ours = ([rule.scratch.name] if rule.scratch is not None and rule.scratch.backup else []) + list(rule.backup_volumes)
        for name in listed:
            key = (id(template), name)
            if key in seen or name not in ours:
                continue
            seen.add(key)
            facts = _template_volume(resource, template, name, claims)
            if facts is None:
                continue
            decision = policies.decide(facts)
            if decision is None:
                continue
            is_scratch = rule.scratch is not None and name == rule.scratch.name
            field_name = "scratch.volume" if is_scratch else "backupVolumes"
            role = "the scratch volume" if is_scratch else "backupVolumes volume"
            problems.append(skip_problem(policies, decision, facts, role,
                                         resource.location(rule=rule.name, field=field_name), severity))
    return problems


def _template_volume(resource: Resource, template: Mapping[str, Any], name: str,
                     claims: Mapping[tuple[str, str], Any]) -> VolumeFacts | None:
    spec = _mapping(template.get("spec"))
    for volume in spec.get("volumes") or []:
        if isinstance(volume, dict) and volume.get("name") == name:
            source = volume.get("persistentVolumeClaim")
            if isinstance(source, dict):
                return claim_facts(name, claims.get((resource.namespace, str(source.get("claimName")))))
            return facts_of_volume(volume)
    if resource.kind == "StatefulSet":
        stateful = _mapping(resource.obj.get("spec"))
        for claim in stateful.get("volumeClaimTemplates") or []:
            metadata = claim.get("metadata") if isinstance(claim, dict) else None
            if isinstance(metadata, dict) and metadata.get("name") == name:
                return claim_facts(name, claim)
    return None
