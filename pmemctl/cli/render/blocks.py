"""Text face of ``pmemctl blocks``: lsmem's table and summary, byte for byte.

Headers, cell formats (``0x%016x-0x%016x``, ``128M``/``2.9G``, zones joined
with ``/``, ``None`` for a block spanning zones, REMOVABLE left empty for
blocks that are not online), alignment and the summary
layout (``%-23s %5s``) follow util-linux lsmem, so the piped output of
``pmemctl blocks -o range,size,state,zone,removable,block,node`` can be
compared with ``lsmem -o RANGE,SIZE,STATE,ZONES,REMOVABLE,BLOCK,NODE``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from pmemctl.cli.render.common import DASH, opt, size, yes_no
from pmemctl.cli.render.doc import Column, Document, KeyValues, table

if TYPE_CHECKING:  # pragma: no cover
    from pmemctl.ops.read import BlockRange, BlocksView


def _removable(r: "BlockRange") -> str:
    # lsmem fills REMOVABLE for online blocks only (util-linux lsmem.c,
    # COL_REMOVABLE); the JSON output keeps the attribute's value.
    return yes_no(r.removable) if r.state.value == "online" else ""


def _zones(r: "BlockRange") -> str:
    if r.zones is None:
        return DASH
    return "/".join(r.zones) if r.zones else "None"  # lsmem prints "None" for valid_zones "none"


#: on a narrow terminal, columns left out first (highest first); the others are never left out
DROP = {"removable": 3, "zone": 2, "range": 1}

# column key -> (header, alignment, minimum width, cell)
CELLS: dict[str, tuple[str, str, int, Callable[["BlockRange", int], str]]] = {
    "range": ("RANGE", "left", 0, lambda r, bs: f"0x{r.start(bs):016x}-0x{r.end(bs):016x}"),
    "size": ("SIZE", "right", 5, lambda r, bs: size(r.count * bs)),
    "state": ("STATE", "right", 0, lambda r, bs: r.state.value),
    "zone": ("ZONES", "right", 0, lambda r, bs: _zones(r)),
    "removable": ("REMOVABLE", "right", 0, lambda r, bs: _removable(r)),
    "block": ("BLOCK", "right", 0, lambda r, bs: str(r.first) if r.first == r.last else f"{r.first}-{r.last}"),
    "node": ("NODE", "right", 0, lambda r, bs: opt(r.node)),
    "device": ("DEVICE", "left", 0, lambda r, bs: r.device or DASH),
}


def blocks_document(view: "BlocksView") -> Document:
    bs = view.block_size
    cols = [CELLS[c] for c in view.columns]
    tbl = table(
        [Column(h, a, w, drop=DROP.get(key, 0))  # type: ignore[arg-type]
         for key, (h, a, w, _) in zip(view.columns, cols, strict=True)],
        [[cell(r, bs) for _, _, _, cell in cols] for r in view.ranges],
    )
    summary = KeyValues(
        (
            ("Memory block size", size(bs)),
            ("Total online memory", size(view.online_bytes)),
            ("Total offline memory", size(view.offline_bytes)),
        ),
        key_width=23,
        value_width=5,
        value_align="right",
    )
    return Document.of([tbl, summary])
