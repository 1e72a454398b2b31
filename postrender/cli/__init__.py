"""The command line: one table of options, a fast path for Helm's calls, the Typer application."""
