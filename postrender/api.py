"""The library entry point: manifest text and rules in, new manifest text out."""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

from postrender.limits import DEFAULT_LIMITS, Limits
from postrender.pipeline import Options, RenderResult, render_stream
from postrender.ruleset.sources import RuleInputs, build_ruleset
from postrender.stream.split import decode


def render(
    manifests: str | bytes,
    rules: Sequence[str | os.PathLike[str] | Mapping[str, Any]] = (),
    *,
    presets: Sequence[str] = (),
    set_values: Mapping[str, str] | None = None,
    strict: bool = False,
    allow_unmatched: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> RenderResult:
    """Post-render ``manifests`` with rules files, inline rule sets and presets.

    ``rules`` items are paths of rules files or rule sets as Python mappings (the same
    format as a file). The environment variables of the command line are *not* read: a
    library call depends only on its arguments. Returns a ``RenderResult`` whose ``text``
    is the new stream and whose ``warnings`` and ``effects`` say what happened; raises
    ``postrender.PostRenderError`` (with ``.problems``) when the rules or the input are
    wrong, and ``postrender.UsageError`` when no rules are given. ``limits``
    (``postrender.limits.Limits``) bounds input size, alias expansion and nesting depth, as
    the command line's ``--max-*`` flags do. A library call never forks a worker process.
    """
    text = decode(manifests) if isinstance(manifests, bytes) else manifests
    inputs = RuleInputs(
        rules=tuple(os.fspath(r) for r in rules if not isinstance(r, Mapping)),
        presets=tuple(presets),
        settings=tuple(f"{k}={v}" for k, v in (set_values or {}).items()),
        inline=tuple(r for r in rules if isinstance(r, Mapping)),
    )
    ruleset = build_ruleset(inputs)
    return render_stream(text, ruleset, Options(strict=strict, allow_unmatched=allow_unmatched, limits=limits))
