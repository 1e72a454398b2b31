"""The shipped presets: one self-describing rules file per preset, found by listing a folder.

In an installed wheel they live in ``postrender/presets``; in a source checkout (and an
editable install) in the repository's top-level ``rules/``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def presets_dir() -> Path:
    for candidate in (_PACKAGE / "presets", _PACKAGE.parent / "rules"):
        if candidate.is_dir() and any(candidate.glob("*.yaml")):
            return candidate
    return _PACKAGE / "presets"


def preset_names() -> list[str]:
    return sorted(path.stem for path in presets_dir().glob("*.yaml"))


def preset_path(name: str) -> Path | None:
    path = presets_dir() / f"{name}.yaml"
    return path if name and "/" not in name and path.is_file() else None
