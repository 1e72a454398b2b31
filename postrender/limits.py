"""Bounds on what one run accepts, so that hostile input fails closed instead of exhausting
the machine Helm runs on.

- input size, bytes of the manifest stream: 16 MiB; ``--max-input-bytes``,
  ``VELERO_POSTRENDER_MAX_INPUT_BYTES``;
- alias expansion, nodes that aliases add to one document: 10000; ``--max-alias-expansion``,
  ``VELERO_POSTRENDER_MAX_ALIAS_EXPANSION``;
- nesting depth, collections inside collections: 200; ``--max-depth``, ``VELERO_POSTRENDER_MAX_DEPTH``.

The defaults are far above what real charts produce (the fixture corpus: 0.5 MB streams,
depth 11, no aliases; a large chart with its CRDs renders to a few MB) and below what hurts:
the input size bounds memory and time (about ten times the input in memory for rendered
charts, up to ~200 times for a stream made of millions of one-character values), the
alias budget stops a "billion laughs" document after a few hundred events, and the depth
keeps libyaml's recursive composer (which crashes the process somewhere past 20000 levels)
and every recursive walk after it (dumper, JSONPath) on safe ground. A flag wins over the
environment, which wins over the default. Sizes accept ``Ki``/``Mi``/``Gi`` (and ``K``/``M``/``G``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from postrender.errors import UsageError

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Mapping

MiB = 1024 * 1024

DEFAULT_MAX_INPUT_BYTES = 16 * MiB
DEFAULT_MAX_ALIAS_EXPANSION = 10_000
DEFAULT_MAX_DEPTH = 200

ENV_MAX_INPUT_BYTES = "VELERO_POSTRENDER_MAX_INPUT_BYTES"
ENV_MAX_ALIAS_EXPANSION = "VELERO_POSTRENDER_MAX_ALIAS_EXPANSION"
ENV_MAX_DEPTH = "VELERO_POSTRENDER_MAX_DEPTH"

_SIZE = re.compile(r"\s*(\d+)\s*(Ki|Mi|Gi|K|M|G|k)?B?\s*")
_UNITS = {None: 1, "K": 1000, "k": 1000, "M": 1000**2, "G": 1000**3, "Ki": 1024, "Mi": MiB, "Gi": 1024 * MiB}


@dataclass(frozen=True)
class Limits:
    """The bounds of one run; every field must be a positive integer."""

    max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES
    max_alias_expansion: int = DEFAULT_MAX_ALIAS_EXPANSION
    max_depth: int = DEFAULT_MAX_DEPTH

    @classmethod
    def from_settings(
        cls,
        max_input_bytes: str | int | None = None,
        max_alias_expansion: str | int | None = None,
        max_depth: str | int | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Limits:
        """Flags (given values) first, then the environment, then the defaults."""
        env = os.environ if environ is None else environ

        def pick(value: str | int | None, variable: str, flag: str, default: int, sizes: bool) -> int:
            if value is None:
                value = env.get(variable) or None
                flag = variable
            if value is None:
                return default
            return parse_limit(value, flag, sizes)

        return cls(
            pick(max_input_bytes, ENV_MAX_INPUT_BYTES, "--max-input-bytes", DEFAULT_MAX_INPUT_BYTES, True),
            pick(max_alias_expansion, ENV_MAX_ALIAS_EXPANSION, "--max-alias-expansion", DEFAULT_MAX_ALIAS_EXPANSION,
                 False),
            pick(max_depth, ENV_MAX_DEPTH, "--max-depth", DEFAULT_MAX_DEPTH, False),
        )


def parse_limit(value: str | int, name: str, sizes: bool = False) -> int:
    """A positive integer (with a size suffix when ``sizes``); a usage error otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        match = _SIZE.fullmatch(str(value)) if sizes else re.fullmatch(r"\s*(\d+)\s*", str(value))
        if match is None:
            suffixes = " (suffix Ki, Mi, Gi allowed)" if sizes else ""
            raise UsageError(f"{name} {value!r}: expected a positive integer{suffixes}")
        number = int(match.group(1)) * (_UNITS[match.group(2)] if sizes else 1)
    if number <= 0:
        raise UsageError(f"{name} {value!r}: must be positive")
    return number


DEFAULT_LIMITS = Limits()
