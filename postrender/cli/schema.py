"""``velero-postrender schema``: the JSON Schema of rules files, made from ``postrender.ruleset.schema``,
the same definitions the loader validates with, so the published schema cannot drift."""

from __future__ import annotations

import json
import sys


def schema_text() -> str:
    """The schema as committed in docs/rules.schema.json: 2-space JSON and a final newline."""
    from postrender.ruleset.schema import to_json_schema  # only when the command runs (--help imports this module)

    return json.dumps(to_json_schema(), indent=2, ensure_ascii=False) + "\n"


def schema() -> None:
    """Print the JSON Schema (2020-12) of rules files.

    Editors that speak the YAML language server validate and complete rules files when the
    file's first line points at the schema.

    \b
    Examples:
      velero-postrender schema > rules.schema.json
      # first line of a rules file:
      # yaml-language-server: $schema=./rules.schema.json
    """
    sys.stdout.write(schema_text())
    sys.stdout.flush()
