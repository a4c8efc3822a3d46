"""``pmemctl list``: NVDIMM buses, regions, namespaces and dax devices."""

from __future__ import annotations

from typing import Optional

import click

from pmemctl.cli.app import App
from pmemctl.cli.commands import (
    complete_buses,
    complete_dax_devices,
    complete_modes,
    complete_namespaces,
    complete_regions,
    json_option,
)


@click.command("list")
@click.option("--bus", metavar="BUS", shell_complete=complete_buses,
              help="Only this bus (name like ndbus0, or provider like ACPI.NFIT).")
@click.option("--region", metavar="REGION", shell_complete=complete_regions, help="Only this region (region0 or 0).")
@click.option("--namespace", metavar="NS", shell_complete=complete_namespaces,
              help="Only this namespace (namespace0.0).")
@click.option("--device", metavar="DAX", shell_complete=complete_dax_devices, help="Only this dax device (dax0.0).")
@click.option(
    "--mode",
    metavar="MODE",
    shell_complete=complete_modes,
    help="Only namespaces in this mode (raw, sector, fsdax, devdax) "
    "or dax devices in this mode (devdax, system-ram, disabled).",
)
@json_option
@click.pass_obj
def command(
    app: App,
    bus: Optional[str],
    region: Optional[str],
    namespace: Optional[str],
    device: Optional[str],
    mode: Optional[str],
    as_json: bool,
) -> None:
    """List NVDIMM buses, regions, namespaces and dax devices.

    Objects nest bus → region → namespace → dax device; dax devices that
    belong to no namespace (soft-reserved "hmem" and CXL memory) follow on
    their own.  For each dax device the MEMORY column counts its memory
    blocks that are online.
    """
    from pmemctl.ops.read import ListFilter, list_view

    flt = ListFilter(bus=bus, region=region, namespace=namespace, device=device, mode=mode)
    view = list_view(app.open_door(writes=False), flt)
    if as_json:
        from pmemctl.cli.render.json import list_json

        app.emit_json(list_json(view, flt))
        return
    from pmemctl.cli.render.list import list_document

    app.show(list_document(view, filtered=any((bus, region, namespace, device, mode))))


