"""velero-postrender: merge Velero backup hooks into rendered Kubernetes manifests.

Library use::

    from postrender import render
    result = render(manifest_text, ["rules.yaml"], presets=["postgresql"])
    print(result.text)
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"
__all__ = ["render", "PostRenderError", "UsageError", "__version__"]


def __getattr__(name: str) -> Any:
    """Lazy exports, so that ``import postrender`` stays cheap for the command line."""
    if name == "render":
        from postrender.api import render

        return render
    if name in ("PostRenderError", "UsageError"):
        from postrender import errors

        return getattr(errors, name)
    raise AttributeError(name)
