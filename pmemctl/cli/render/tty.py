"""Rich rendering of a :class:`~pmemctl.cli.render.doc.Document` on a terminal.

Imported only when stdout is a terminal (or --color forces it), so piped and
JSON runs never pay for importing rich.
"""

from __future__ import annotations

from pmemctl.cli.render.doc import Document, KeyValues, Lines, Table

#: Cell values worth a colour at a glance.
_VALUE_STYLES = {
    "online": "green",
    "offline": "yellow",
    "going-offline": "yellow",
    "system-ram": "cyan",
    "devdax": "magenta",
    "unbound": "yellow",
    "disabled": "yellow",
}


def print_document(doc: Document, *, color: bool) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    # The App already decided this is a terminal (or --color forced rich).
    console = Console(
        force_terminal=True,
        color_system="auto" if color else None,
        no_color=not color,
        highlight=False,
    )
    for n, block in enumerate(doc.blocks):
        if n:
            console.print()
        if block.title:
            console.print(Text(block.title, style="bold"))
        if isinstance(block, Table):
            tbl = RichTable(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
            for col in block.columns:
                tbl.add_column(col.header, justify=col.align, min_width=col.width_hint or None, no_wrap=True)
            for row in block.rows:
                tbl.add_row(*(Text(cell, style=_VALUE_STYLES.get(cell, "")) for cell in row))
            console.print(tbl)
        elif isinstance(block, KeyValues):
            grid = RichTable.grid(padding=(0, 1))
            grid.add_column(style="bold")
            grid.add_column(justify=block.value_align)
            for key, value in block.pairs:
                grid.add_row(Text(key + ":"), Text(value))
            console.print(grid)
        elif isinstance(block, Lines):
            for line in block.lines:
                console.print(Text(" " * block.indent + line, style=block.style))
