"""Plain, stable, column-aligned text for pipes: no ANSI codes, no box drawing.

Tables follow libsmartcols as lsmem uses it when piped: each column as wide
as its widest cell or its header (see :func:`column_width` for the width
hint), one space between columns, right-aligned columns padded on the left,
no trailing blanks.  Blocks are separated by
one empty line.
"""

from __future__ import annotations

from pmemctl.cli.render.doc import Block, Document, KeyValues, Lines, Table


def _pad(text: str, width: int, align: str) -> str:
    return text.rjust(width) if align == "right" else text.ljust(width)


def column_width(header: str, cells: list[str], hint: int = 0) -> int:
    """libsmartcols' width rule (calculate.c, count_column_width): cells
    narrower than the header take the header's width; otherwise a width hint
    wider than both wins; otherwise the widest cell."""
    data = max((len(c) for c in cells), default=0)
    if data < len(header):
        return len(header)
    if hint and data < hint and len(header) < hint:
        return hint
    return data


def render_table(tbl: Table) -> list[str]:
    cols = tbl.columns
    widths = [
        column_width(c.header, [row[i] for row in tbl.rows], c.width_hint) for i, c in enumerate(cols)
    ]
    out = []
    for row in ((c.header for c in cols), *tbl.rows):
        cells = [_pad(cell, widths[i], cols[i].align) for i, cell in enumerate(row)]
        out.append(" ".join(cells).rstrip())
    return out


def render_key_values(kv: KeyValues) -> list[str]:
    key_width = kv.key_width or max((len(k) + 1 for k, _ in kv.pairs), default=0)
    return [
        f"{k + ':':<{key_width}} {_pad(v, kv.value_width, kv.value_align)}".rstrip()
        for k, v in kv.pairs
    ]


def render_block(block: Block) -> list[str]:
    lines = [f"{block.title}:"] if block.title else []
    if isinstance(block, Table):
        lines += render_table(block)
    elif isinstance(block, KeyValues):
        lines += render_key_values(block)
    elif isinstance(block, Lines):
        lines += [(" " * block.indent + line).rstrip() for line in block.lines]
    return lines


def render_document(doc: Document) -> str:
    """The whole document as text ending in a newline ('' when empty)."""
    parts = ["\n".join(render_block(b)) for b in doc.blocks]
    return "\n\n".join(parts) + "\n" if parts else ""
