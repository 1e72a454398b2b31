"""The Velero pod annotations, written exactly as Velero parses them (notes/velero-hooks.md)."""

from __future__ import annotations

import json

from postrender.ruleset.model import Hook, Phase

BACKUP_VOLUMES = "backup.velero.io/backup-volumes"
BACKUP_VOLUMES_EXCLUDES = "backup.velero.io/backup-volumes-excludes"
VELERO_DOMAINS = ("hook.backup.velero.io/", "hook.restore.velero.io/", "backup.velero.io/")


def encode_command(argv: tuple[str, ...]) -> str:
    """A JSON array of strings in a YAML string: the only form Velero splits into argv."""
    return json.dumps(list(argv), ensure_ascii=False)


def hook_annotations(hook: Hook, container: str | None) -> dict[str, str]:
    """The annotations of one hook; ``on-error`` is always written, never left to defaults."""
    prefix = hook.phase.prefix
    if hook.phase is Phase.INIT_RESTORE:
        values = {f"{prefix}/container-image": hook.image}
        if hook.init_name:
            values[f"{prefix}/container-name"] = hook.init_name
        values[f"{prefix}/command"] = encode_command(hook.command)
        return {k: v for k, v in values.items() if v is not None}
    values = {
        f"{prefix}/container": container,
        f"{prefix}/command": encode_command(hook.command),
        f"{prefix}/on-error": hook.on_error,
    }
    if hook.phase is Phase.POST_RESTORE:
        values[f"{prefix}/exec-timeout"] = hook.exec_timeout
        values[f"{prefix}/wait-timeout"] = hook.wait_timeout
        if hook.wait_for_ready is not None:
            values[f"{prefix}/wait-for-ready"] = "true" if hook.wait_for_ready else "false"
    else:
        values[f"{prefix}/timeout"] = hook.timeout
    return {k: v for k, v in values.items() if v is not None}


def same_value(key: str, existing: object, wanted: str) -> bool:
    """Equal for Velero: commands compare as JSON arrays, everything else as text."""
    if existing == wanted:
        return True
    if key.endswith("/command") and isinstance(existing, str):
        try:
            return json.loads(existing) == json.loads(wanted)
        except ValueError:
            return False
    return False


def split_volume_list(value: object) -> list[str]:
    """Names of a volume list; spaces are dropped because Velero would keep them in the name."""
    if not isinstance(value, str) or not value:
        return []
    return [name.strip() for name in value.split(",") if name.strip()]


def join_volume_list(names: list[str]) -> str:
    return ",".join(names)
