"""velero-postrender: merge Velero backup hooks into rendered Kubernetes manifests.

Library use::

    from postrender import render
    result = render(manifest_text, ["rules.yaml"], presets=["postgresql"])
    print(result.text)

    from postrender import PostRenderer, Options, load_rules
    from postrender.stream.reader import FileReader
    from postrender.writers.stream import StreamWriter
    PostRenderer(load_rules(presets=["postgresql"]), Options()).run(FileReader("in.yaml"), StreamWriter(out))
"""

from __future__ import annotations

import os
import re

TYPE_CHECKING = False  # typing itself costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any

__all__ = ["render", "load_rules", "PostRenderer", "Options", "PostRenderError", "UsageError", "__version__"]

def version() -> str:
    """The version of the installed distribution; in a source checkout, ``pyproject.toml``'s."""
    from importlib import metadata  # only --version and the error log need it: it costs start-up time

    try:
        return metadata.version("velero-postrender")
    except metadata.PackageNotFoundError:
        pyproject = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pyproject.toml")
        with open(pyproject, encoding="utf-8") as handle:
            found = re.search(r'^version\s*=\s*"([^"]+)"', handle.read(), re.MULTILINE)
        return found.group(1) if found else "0+unknown"


def __getattr__(name: str) -> Any:
    """Lazy exports, so that ``import postrender`` stays cheap for the command line."""
    if name == "__version__":
        return version()
    # lazy exports: ``import postrender`` (every command's first import) loads nothing more
    if name in ("render", "load_rules"):
        from postrender import api

        return getattr(api, name)
    if name in ("PostRenderer", "Options"):
        from postrender import pipeline

        return getattr(pipeline, name)
    if name in ("PostRenderError", "UsageError"):
        from postrender import errors

        return getattr(errors, name)
    raise AttributeError(name)
