"""Tables as plain text, for output that is not a terminal: the title, a header, one line per row,
columns aligned with spaces and every cell whole, as `docker images` and `trivy` print when piped.
Nothing is cut, wrapped, boxed or styled, so `grep`, `awk` and a file read every name in full.
"""

from __future__ import annotations

import io

from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

GAP = "   "
"""What separates two columns (as `docker images`)."""


def cell_text(cell: RenderableType | None) -> str:
    """Return a cell's text without styles, on one line (newlines become spaces).

    A `Text` is taken as it is; a `str` has its markup rendered away, as a terminal would show
    it (untrusted text is given as `Text`, never as markup); any other renderable is rendered
    without a width limit.

    Raises:
        rich.errors.MarkupError: if a `str` cell is not valid markup.
    """
    if cell is None:
        return ""
    if isinstance(cell, Text):
        text = cell.plain
    elif isinstance(cell, str):
        text = Text.from_markup(cell).plain
    else:
        out = io.StringIO()
        Console(file=out, width=1_000_000, force_terminal=False, soft_wrap=True).print(cell)
        text = out.getvalue().rstrip("\n")
    return text.replace("\n", " ")


def table_lines(table: Table) -> list[str]:
    """Return `table` as plain lines: its title when it has one, the column headers in capitals,
    then one line per row. A column is as wide as its widest cell (terminal cells: wide
    characters count twice); right-justified columns stay so; lines carry no trailing spaces.

    Raises:
        rich.errors.MarkupError: if a `str` cell, header or title is not valid markup.
    """
    cols = table.columns
    grid = [[cell_text(c.header).upper() for c in cols]]
    cells = [list(c.cells) for c in cols]
    grid += [[cell_text(column[row]) for column in cells] for row in range(table.row_count)]
    widths = [max(cell_len(r[i]) for r in grid) for i in range(len(cols))]
    right = [c.justify == "right" for c in cols]
    rows = [GAP.join(_pad(v, w, rj) for v, w, rj in zip(r, widths, right, strict=True)).rstrip()
            for r in grid]
    return [cell_text(table.title), *rows] if table.title else rows


def _pad(text: str, width: int, right: bool) -> str:
    """Return `text` padded with spaces to `width` terminal cells, on the left when `right`."""
    fill = " " * (width - cell_len(text))
    return fill + text if right else text + fill
