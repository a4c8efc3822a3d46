"""Rich rendering of a :class:`~pmemctl.cli.render.doc.Document` on a terminal.

Imported only when stdout is a terminal (or --color forces it), so piped and
JSON runs never pay for importing rich.
"""

from __future__ import annotations

from typing import Optional

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
    from pmemctl.cli.quiet_imports import collector_paused

    with collector_paused("rich.console", "rich.table"):
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
            keep, wrap = fit_columns(block, console.width)
            if keep is None:  # no fit without cutting an identifier: the plain layout, whole
                from pmemctl.cli.render.plain import render_table

                for line in render_table(block):
                    console.print(Text(line), no_wrap=True, crop=False, overflow="ignore")
                continue
            tbl = RichTable(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
            for i in keep:
                col = block.columns[i]
                tbl.add_column(col.header, justify=col.align, min_width=col.width_hint or None,
                               no_wrap=not (wrap and col.wrap), overflow="fold")
            for row in block.rows:
                tbl.add_row(*(Text(row[i], style=_VALUE_STYLES.get(row[i], "")) for i in keep))
            console.print(tbl)
            dropped = sorted((c for i, c in enumerate(block.columns) if i not in keep), key=lambda c: -c.drop)
            if dropped:
                console.print(Text(f"(to fit {console.width} columns, left out in this order: "
                                   f"{', '.join(c.header for c in dropped)}; piped or --json output has them all)",
                                   style="dim"))
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


#: what SIMPLE_HEAD without edges puts between two columns (padding, rule, padding)
COLUMN_GAP = 3


def fit_columns(tbl: Table, width: int) -> tuple[Optional[list[int]], bool]:
    """Which columns of ``tbl`` to show on a terminal ``width`` wide, and
    whether free-text columns must wrap; (None, False) when even the
    narrowest layout would cut a cell (the caller prints plain text).

    Identifiers are never truncated (issue 15, item 12): columns marked
    ``drop`` are left out, highest first, until the table fits with every
    cell whole; free-text (``wrap``) columns may then wrap between words.
    """
    cols = tbl.columns
    natural = [max([len(c.header), c.width_hint, *(len(r[i]) for r in tbl.rows)]) for i, c in enumerate(cols)]
    narrowest = [max([len(c.header), *(len(w) for r in tbl.rows for w in r[i].split())]) if c.wrap else natural[i]
                 for i, c in enumerate(cols)]

    def total(keep: list[int], widths: list[int]) -> int:
        return sum(widths[i] for i in keep) + COLUMN_GAP * (len(keep) - 1)

    keep = list(range(len(cols)))
    droppable = sorted((i for i, c in enumerate(cols) if c.drop), key=lambda i: -cols[i].drop)
    while True:
        if total(keep, natural) <= width:
            return keep, False
        if total(keep, narrowest) <= width:
            return keep, True
        if not droppable:
            return None, False
        keep.remove(droppable.pop(0))
