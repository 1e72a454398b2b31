"""The shipped presets: one self-describing rules file per preset, found by listing a folder.

In an installed wheel they live in ``postrender/presets`` (data only); in a source checkout (and an
editable install) in the repository's top-level ``rules/``. The run itself only needs
``preset_file`` and ``preset_names`` (plain ``os.path``: pathlib costs start-up time Helm
pays on every call); the ``Path`` flavours serve the ``presets`` and ``lint`` commands.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs start-up time

if TYPE_CHECKING:
    from pathlib import Path

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the postrender folder


def _presets_folder() -> str:
    for candidate in (os.path.join(_PACKAGE, "presets"), os.path.join(os.path.dirname(_PACKAGE), "rules")):
        if os.path.isdir(candidate) and any(name.endswith(".yaml") for name in os.listdir(candidate)):
            return candidate
    return os.path.join(_PACKAGE, "presets")


def preset_names() -> list[str]:
    folder = _presets_folder()
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return sorted(name[: -len(".yaml")] for name in names if name.endswith(".yaml"))


def preset_file(name: str) -> str | None:
    """The file of preset ``name``, or None when there is no such preset."""
    if not name or "/" in name or os.sep in name or name.startswith("."):
        return None
    path = os.path.join(_presets_folder(), f"{name}.yaml")
    return path if os.path.isfile(path) else None


def presets_dir() -> Path:
    from pathlib import Path  # for the commands only: the run uses os.path (see the module docstring)

    return Path(_presets_folder())


def preset_path(name: str) -> Path | None:
    from pathlib import Path  # see presets_dir

    found = preset_file(name)
    return Path(found) if found else None
