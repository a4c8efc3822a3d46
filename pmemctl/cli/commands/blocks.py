"""``pmemctl blocks``: memory blocks as lsmem-like ranges."""

from __future__ import annotations

from typing import Optional

import click

from pmemctl.cli.app import App
from pmemctl.cli.commands import (
    WholeNumber,
    complete_columns,
    complete_dax_devices,
    complete_nodes,
    complete_states,
    json_option,
)


@click.command("blocks")
@click.option("-a", "--all", "per_block", is_flag=True, help="One line per memory block instead of merged ranges.")
@click.option("--device", metavar="DAX", shell_complete=complete_dax_devices,
              help="Only blocks of this dax device (dax0.0).")
@click.option("--node", metavar="N", shell_complete=complete_nodes, type=WholeNumber(0, "a node number"),
              help="Only blocks on NUMA node N.")
@click.option("--state", metavar="STATE", shell_complete=complete_states, help="Only online or offline blocks.")
@click.option(
    "-o",
    "--output",
    "columns",
    metavar="COLS",
    shell_complete=complete_columns,
    help="Comma-separated columns: range,size,state,zone,removable,block,node,device (the default: all; "
    "also as lsmem names them, ZONES included, any case). Ranges merge blocks that agree on every shown column.",
)
@json_option
@click.pass_obj
def command(
    app: App,
    per_block: bool,
    device: Optional[str],
    node: Optional[int],
    state: Optional[str],
    columns: Optional[str],
    as_json: bool,
) -> None:
    """Show memory blocks, merged into ranges as lsmem does.

    Adjacent blocks merge into one range when they agree on state, zone,
    removability, node and owning dax device (for the columns shown).  The
    summary gives the block size and the online and offline totals.  Piped
    output matches lsmem's layout, so the two can be compared directly.
    """
    from pmemctl.cli.show_blocks import show_blocks

    show_blocks(app, per_block=per_block, device=device, node=node, state=state, columns=columns, as_json=as_json)
