"""``pmemctl topology``: NUMA nodes, distances, tiers and placement hints."""

from __future__ import annotations

import click

from pmemctl.cli.app import App
from pmemctl.cli.commands import json_option


@click.command("topology")
@json_option
@click.pass_obj
def command(app: App, as_json: bool) -> None:
    """Show NUMA nodes, what memory backs them, and how to use them.

    For each node: its kind (DRAM, PMEM or CXL, with the evidence), CPUs,
    memory, online blocks and zone mix, memory tier, backing dax devices and
    HMAT latency and bandwidth.  Then the distance matrix, the memory tiers,
    the hotplug and demotion policy, warnings, and node lists ready for
    numactl --membind.
    """
    from pmemctl.ops.read import topology_view

    view = topology_view(app.open_door(writes=False))
    if as_json:
        from pmemctl.cli.render.json import topology_json

        app.emit_json(topology_json(view))
        return
    from pmemctl.cli.render.topology import topology_document

    app.show(topology_document(view))
