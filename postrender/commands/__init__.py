"""The subcommands of ``velero-postrender`` (CONTRACT §3), one module per command.

The root command (what Helm runs) stays in ``postrender.cli``; these commands reuse its rule
options and error reporting. ``postrender.cli`` calls ``register`` as its last statement.

Import order: ``register`` is defined before ``postrender.cli`` is imported below, so the
circular import resolves whichever of the two modules a caller imports first.
"""

from __future__ import annotations

from typing import Any


def register(app: Any) -> None:
    """Add every subcommand to the Typer ``app``, in the order ``--help`` lists them."""
    from postrender.commands import diff, explain, lint, presets_cmd, schema_cmd

    app.command("explain", no_args_is_help=False)(explain.explain)
    app.command("diff")(diff.diff)
    app.command("lint")(lint.lint)
    app.command("presets")(presets_cmd.presets)
    app.command("schema")(schema_cmd.schema)


import postrender.cli  # noqa: E402,F401  (see the module docstring)
