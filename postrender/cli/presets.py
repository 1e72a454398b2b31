"""``velero-postrender presets [NAME]``: what ships, and the text of one preset.

Each preset describes itself (``metadata.description``), so the listing needs no table of
its own that could fall out of date.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path
from typing import Annotated

import typer

from postrender.cli.options import reported
from postrender.errors import Location, PostRenderError, error
from postrender.writers.table import render_plain

PathOption = Annotated[bool, typer.Option("--path", help="Print the preset file's path instead of its text.")]


def description_of(path: Path) -> str:
    """``metadata.description`` on one line, or why there is none."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return f"(unreadable: {type(exc).__name__})"
    metadata = data.get("metadata") if isinstance(data, dict) else None
    description = metadata.get("description") if isinstance(metadata, dict) else None
    return " ".join(str(description).split()) if description else "(no metadata.description)"


@reported
def presets(
    name: Annotated[str | None, typer.Argument(metavar="[NAME]", help="Print this preset.")] = None,
    path: PathOption = False,
) -> None:
    """List the shipped presets, or print one to read or adapt.

    \b
    Examples:
      velero-postrender presets
      velero-postrender presets postgresql
      cp "$(velero-postrender presets --path postgresql)" my-rules.yaml
      helm template rel chart/ | velero-postrender --preset postgresql
    """
    from postrender.ruleset.presets import preset_names, preset_path, presets_dir

    if name is None:
        names = preset_names()
        if path:
            sys.stdout.write(f"{presets_dir()}\n")
        elif not names:
            sys.stderr.write(f"velero-postrender: no presets are installed (looked in {presets_dir()})\n")
        else:
            width = max(40, shutil.get_terminal_size((100, 24)).columns - max(map(len, names)) - 2)
            rows = [[preset, textwrap.fill(description_of(preset_path(preset) or Path()), width)] for preset in names]
            sys.stdout.write(render_plain(("NAME", "DESCRIPTION"), rows))
        return
    found = preset_path(name)
    if found is None:
        raise PostRenderError([error(f"no preset named {name!r}", Location(file=f"preset:{name}"),
                                     f"available: {', '.join(preset_names()) or '(none)'}")])
    if path:
        sys.stdout.write(f"{found}\n")
    else:
        sys.stdout.buffer.write(found.read_bytes())
    sys.stdout.flush()
