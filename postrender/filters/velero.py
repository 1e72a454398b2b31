"""The Velero pod annotations: written exactly as Velero parses them, and existing ones read the
way Velero reads them, so that "already there" means "Velero would do the same thing"."""

from __future__ import annotations

import json

from postrender.ruleset.durations import DurationError, parse_go_duration_ns
from postrender.ruleset.model import Hook, InitRestoreHook, Phase, RestoreHook

BACKUP_VOLUMES = "backup.velero.io/backup-volumes"
BACKUP_VOLUMES_EXCLUDES = "backup.velero.io/backup-volumes-excludes"
VELERO_DOMAINS = ("hook.backup.velero.io/", "hook.restore.velero.io/", "backup.velero.io/")
DURATION_KEYS = ("/timeout", "/exec-timeout", "/wait-timeout")
# Go's strconv.ParseBool, which Velero uses for wait-for-ready
_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def encode_command(argv: tuple[str, ...]) -> str:
    """A JSON array of strings in a YAML string: the only form Velero splits into argv."""
    return json.dumps(list(argv), ensure_ascii=False)


def decode_command(value: str) -> list[str]:
    """The argv Velero runs for a command annotation: a JSON array of strings only when the first
    byte is ``[`` (``null`` items become ``""``); anything else, or a JSON parse that fails, is
    one argv element holding the whole value."""
    if not value.startswith("["):
        return [value]
    try:
        parsed = json.loads(value, parse_constant=_refuse)
    except ValueError:
        return [value]
    if not isinstance(parsed, list) or not all(item is None or isinstance(item, str) for item in parsed):
        return [value]
    return ["" if item is None else _go_string(item) for item in parsed]


def _refuse(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _go_string(text: str) -> str:
    """Go's JSON decoder turns an unpaired surrogate escape into U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace") if _has_surrogate(text) else text


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


def hook_annotations(hook: Hook, container: str | None) -> dict[str, str]:
    """The annotations of one hook; ``on-error`` is always written, never left to defaults."""
    prefix = hook.phase.prefix
    if isinstance(hook, InitRestoreHook):
        values: dict[str, str | None] = {f"{prefix}/container-image": hook.image,
                                         f"{prefix}/container-name": hook.name,
                                         f"{prefix}/command": encode_command(hook.command)}
    elif isinstance(hook, RestoreHook):
        values = {
            f"{prefix}/container": container,
            f"{prefix}/command": encode_command(hook.command),
            f"{prefix}/on-error": hook.on_error,
            f"{prefix}/exec-timeout": hook.exec_timeout,
            f"{prefix}/wait-timeout": hook.wait_timeout,
            f"{prefix}/wait-for-ready": None if hook.wait_for_ready is None else str(hook.wait_for_ready).lower(),
        }
    else:
        values = {
            f"{prefix}/container": container,
            f"{prefix}/command": encode_command(hook.command),
            f"{prefix}/on-error": hook.on_error,
            f"{prefix}/timeout": hook.timeout,
        }
    return {k: v for k, v in values.items() if v is not None}


def phase_keys(annotations: dict[str, object], phase: Phase) -> list[str]:
    """The annotation keys of one hook phase present on a pod template."""
    prefix = phase.prefix + "/"
    return [key for key in annotations if isinstance(key, str) and key.startswith(prefix)]


def same_value(key: str, existing: object, wanted: str) -> bool:
    """Equal for Velero: commands as the argv Velero would run, durations as nanoseconds,
    ``wait-for-ready`` as Go booleans, everything else as text. A value that is not a string
    never equals ours (the API server refuses it)."""
    if not isinstance(existing, str):
        return False
    if existing == wanted:
        return True
    if key.endswith("/command"):
        return bool(existing) and decode_command(existing) == decode_command(wanted)
    if key.endswith(DURATION_KEYS):
        try:
            return parse_go_duration_ns(existing) == parse_go_duration_ns(wanted)
        except DurationError:
            return False
    if key.endswith("/wait-for-ready"):
        return _go_bool(existing) is not None and _go_bool(existing) == _go_bool(wanted)
    return False


def _go_bool(text: str) -> bool | None:
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    return None


def split_volume_list(value: object) -> list[str]:
    """Names of a volume list; spaces are dropped because Velero would keep them in the name."""
    if not isinstance(value, str) or not value:
        return []
    return [name.strip() for name in value.split(",") if name.strip()]


def join_volume_list(names: list[str]) -> str:
    return ",".join(names)

