"""A table on stdout: drawn by rich on a colour terminal, plain aligned text otherwise.

Plain text is what pipes, CI logs and ``NO_COLOR`` users get, so it carries the same content
with no escape codes; cells may span several lines.
"""

from __future__ import annotations

import sys
from typing import Sequence


def render_plain(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns separated by two spaces, a dashed rule under the headers, no trailing spaces."""
    cells = [[str(cell).split("\n") for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for column, lines in enumerate(row):
            widths[column] = max(widths[column], *(len(line) for line in lines))
    out = [_line(headers, widths), _line(["-" * w for w in widths], widths)]
    for row in cells:
        height = max(len(lines) for lines in row)
        for index in range(height):
            out.append(_line([lines[index] if index < len(lines) else "" for lines in row], widths))
    return "\n".join(out) + "\n"


def _line(values: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(value.ljust(width) for value, width in zip(values, widths, strict=True)).rstrip()


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], color: bool,
                wrap: str | None = None) -> None:
    """Print ``rows`` under ``title``; rich when ``color`` (and rich importable), else plain.

    ``wrap`` names the column with the long cells (it takes the room the others leave).
    """
    if color:
        try:  # rich only for a colour terminal: it costs tens of milliseconds to import
            from rich.console import Console
            from rich.table import Table
            from rich.text import Text
        except ImportError:  # pragma: no cover - rich comes with typer, but stay usable without it
            color = False
    if not color:
        sys.stdout.write(f"{title}\n{render_plain(headers, rows)}")
        sys.stdout.flush()
        return
    table = Table(title=Text(title, style="bold"), title_justify="left", title_style="bold", header_style="bold cyan")
    for header in headers:  # the ``wrap`` column gets the most room; on a narrow terminal all fold, none vanish
        table.add_column(header, overflow="fold", ratio=3 if header == wrap else None)
    for row in rows:
        table.add_row(*(Text(str(cell)) for cell in row))  # Text: brackets in cells are not markup
    Console(file=sys.stdout, force_terminal=True, highlight=False, soft_wrap=False).print(table)


def heading(text: str, color: bool) -> str:
    return f"\x1b[1m{text}\x1b[0m" if color else text
