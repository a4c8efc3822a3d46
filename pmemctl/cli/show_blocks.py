"""What ``pmemctl blocks`` does once its options are parsed: one service
call (:func:`pmemctl.ops.blocks.blocks_view`) and the table or the JSON
document.  Free of click, so that the click command
(:mod:`pmemctl.cli.commands.blocks`) and the console entry's quick path
(:mod:`pmemctl.cli.entry`) run the very same code."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # pragma: no cover
    from pmemctl.cli.app import App


def show_blocks(app: "App", *, per_block: bool, device: Optional[str], node: Optional[int], state: Optional[str],
                columns: Optional[str], as_json: bool) -> None:
    """Read the blocks and print them (``columns``: the -o text as given)."""
    from pmemctl.ops.blocks import blocks_view, parse_columns

    cols = parse_columns(column_aliases(columns))
    view = blocks_view(
        app.open_door(writes=False), columns=cols, per_block=per_block, device=device, node=node, state=state
    )
    if not view.ranges and device is not None and not as_json:
        # say why the table is empty rather than print one with no rows
        from pmemctl.commandline import command_line

        app.say(f"{device} has no memory blocks: only a dax device in system-ram mode (bound to kmem) adds "
                f"them; '{command_line('list', '--device', device, sysroot=app.sysroot)}' shows its mode")
    if as_json:
        from pmemctl.cli.render.json import blocks_json_text

        # Streamed: the per-block document of a big machine is never held whole.
        for piece in blocks_json_text(view, device=device, node=node, state=state):
            sys.stdout.write(piece)
        sys.stdout.flush()
        return
    from pmemctl.cli.render.blocks import blocks_document

    app.show(blocks_document(view))


def column_aliases(columns: Optional[str]) -> Optional[str]:
    """lsmem's column names (``-o RANGE,ZONES``) and any case: the table's
    header says ZONES, so ``-o zones`` means ``zone``."""
    if columns is None:
        return None
    return ",".join("zone" if c.strip().lower() == "zones" else c.strip().lower() for c in columns.split(","))
