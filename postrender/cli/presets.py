"""``velero-postrender presets [NAME]``: what ships, and the text of one preset.

Each preset describes itself in its ``metadata`` (``description``, ``images``, ``env``,
``tested``), so the listing needs no table of its own that could fall out of date. ``env``
names the environment variables the hook scripts read; ``NAME[_FILE]`` means the value may
also come from the file that ``NAME_FILE`` names.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from postrender.cli.common import complete_presets, reported
from postrender.errors import Location, PostRenderError, error
from postrender.writers.table import render_plain

PathOption = Annotated[bool, typer.Option("--path", help="Print the preset file's path instead of its text.")]
FILE_SUFFIX = "[_FILE]"  # in metadata.env: the variable is also read as NAME_FILE


@dataclass(frozen=True)
class Summary:
    """What the listing shows of one preset, from its own ``metadata``."""

    description: str
    images: str = ""
    env: tuple[str, ...] = ()
    tested: str = ""

    @property
    def env_text(self) -> str:
        if not self.env:
            return "no environment variable"
        text = ", ".join(self.env)
        return text + (" ([_FILE]: or from the file that NAME_FILE points to)" if FILE_SUFFIX in text else "")


def summary_of(path: Path) -> Summary:
    """The listing's view of a preset file, or why it has none (an unreadable file still lists)."""
    import yaml  # only when the command runs: --help and shell completion import this module

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return Summary(f"(unreadable: {type(exc).__name__})")
    metadata = data.get("metadata") if isinstance(data, dict) else None
    if not isinstance(metadata, dict):
        return Summary("(no metadata.description)")
    env = metadata.get("env")
    return Summary(
        description=_one_line(metadata.get("description")) or "(no metadata.description)",
        images=_one_line(metadata.get("images")),
        env=tuple(str(name) for name in env) if isinstance(env, list) else (),
        tested=_one_line(metadata.get("tested")),
    )


def description_of(path: Path) -> str:
    """``metadata.description`` on one line, or why there is none."""
    return summary_of(path).description


def _one_line(value: Any) -> str:
    """A metadata value (text, or a list of texts) as one line of words."""
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(_one_line(item) for item in value if item is not None)
    return " ".join(str(value).split())


def listing(names: list[str], paths: list[Path], columns: int) -> str:
    """The NAME / DESCRIPTION table: each description followed by images, env and tested."""
    width = max(40, columns - max(map(len, names)) - 2)
    rows = []
    for name, path in zip(names, paths, strict=True):
        summary = summary_of(path)
        parts = [textwrap.fill(summary.description, width)]
        for label, text in (("images", summary.images), ("reads", summary.env_text), ("tested", summary.tested)):
            if text:
                parts.append(textwrap.fill(f"{label}: {text}", width, subsequent_indent="  ", break_on_hyphens=False))
        rows.append([name, "\n".join(parts)])
    return render_plain(("NAME", "DESCRIPTION"), rows)


@reported
def presets(
    name: Annotated[str | None, typer.Argument(metavar="[NAME]", help="Print this preset.",
                                               autocompletion=complete_presets)] = None,
    path: PathOption = False,
) -> None:
    """List the shipped presets (what each matches, the variables it reads, how it is tested),
    or print one (its params included) to read or adapt.

    \b
    Examples:
      velero-postrender presets
      velero-postrender presets postgresql
      cp "$(velero-postrender presets --path postgresql)" my-rules.yaml
      helm template rel chart/ | velero-postrender --preset postgresql
      helm template rel chart/ | velero-postrender --preset postgresql --set postgresqlImages=registry.corp/pg
    """
    from postrender.ruleset.presets import preset_names, preset_path, presets_dir

    if name is None:
        names = preset_names()
        if path:
            sys.stdout.write(f"{presets_dir()}\n")
        elif not names:
            sys.stderr.write(f"velero-postrender: no presets are installed (looked in {presets_dir()})\n")
        else:
            columns = shutil.get_terminal_size((100, 24)).columns
            sys.stdout.write(listing(names, [preset_path(preset) or Path() for preset in names], columns))
        return
    found = preset_path(name)
    if found is None:
        from postrender.ruleset.sources import preset_hint  # only for an unknown name

        raise PostRenderError([error(f"no preset named {name!r}", Location(file=f"preset:{name}"), preset_hint(name))])
    if path:
        sys.stdout.write(f"{found}\n")
    else:
        sys.stdout.buffer.write(found.read_bytes())
    sys.stdout.flush()
