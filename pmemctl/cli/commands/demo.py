"""``pmemctl demo``: the main job, end to end, on a simulated machine.

Builds a temporary copy of a built-in scenario (no root, no PMEM needed) and
walks through it: discover -> topology before -> plan (dry run) -> convert a
device to system-ram -> online half of its blocks movable -> topology and
blocks after.  Every step is the same service the real commands call, on the
simulated kernel.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Optional

import click

from pmemctl.cli.app import App


def _heading(app: App, n: int, text: str) -> None:
    from pmemctl.cli.render.doc import Document, Lines

    app.say("")
    app.show(Document.of([Lines((f"== {n}. {text}",), style="bold cyan")]))


@click.command("demo")
@click.option(
    "--scenario", default="qemu-nvdimm", show_default=True, metavar="NAME",
    help="Built-in scenario to start from (see 'pmemctl sim list').",
)
@click.option("--keep", metavar="DIR", type=click.Path(file_okay=False), help="Build the tree in DIR and keep it.")
@click.pass_obj
def command(app: App, scenario: str, keep: Optional[str]) -> int:
    """Walk through converting PMEM to RAM on a simulated machine.

    Discover the devices, show the NUMA topology, plan the conversion of a
    devdax device to system-ram (printed as the exact writes), apply it,
    online half of its memory blocks into ZONE_MOVABLE, and show the
    topology and memory blocks afterwards.  Nothing on this machine changes.
    """
    from pmemctl.cli.progress import build_bar
    from pmemctl.cli.render.blocks import blocks_document
    from pmemctl.cli.render.change import change_document
    from pmemctl.cli.render.list import list_document
    from pmemctl.cli.render.topology import topology_document
    from pmemctl.commandline import command_line
    from pmemctl.errors import ExitCode, NotFound
    from pmemctl.model.discover import discover
    from pmemctl.ops import services as change
    from pmemctl.ops.executor import ApplyOptions
    from pmemctl.ops.read import blocks_view, list_view, topology_view
    from pmemctl.ops.requests import BlockRequest, ReconfigureRequest
    from pmemctl.sim.build import materialise
    from pmemctl.sim.kernel import SimulatedKernel
    from pmemctl.sim.kernels import DEFAULT_KERNEL

    params = {"stage": "devdax"} if scenario == "qemu-nvdimm" else {}
    _refuse_unsuitable(scenario, params, keep)
    workdir = keep or tempfile.mkdtemp(prefix="pmemctl-demo-")
    try:
        with build_bar(app, f"building {scenario}") as progress:
            # the newest kernel profile, as 'sim create' builds by default
            tree = materialise(scenario, f"{workdir}/machine" if not keep else workdir, params, kernel=DEFAULT_KERNEL,
                               progress=progress)
        door = SimulatedKernel(tree)
        app.say(f"Simulated machine '{scenario}' built in {tree} (the simulated kernel reacts to writes).")

        _heading(app, 1, "Discover: buses, regions, namespaces, dax devices")
        app.show(list_document(list_view(door), filtered=False))

        _heading(app, 2, "NUMA topology before")
        app.show(topology_document(topology_view(door)))

        topo = discover(door)
        candidates = [d for d in topo.dax_devices if d.mode.value == "devdax" and d.target_node is not None]
        if not candidates:
            raise NotFound(f"scenario {scenario!r} has no devdax device to convert", hint="try --scenario qemu-nvdimm")
        dev = candidates[0].name
        opts = change.RunOptions(yes=True, apply=ApplyOptions(command="demo"))
        req = ReconfigureRequest(dev, "system-ram", "movable", online=False)

        _heading(app, 3, f"Plan: {dev} to system-ram (dry run: nothing written yet)")
        dry = change.reconfigure(door, req, change.RunOptions(dry_run=True))
        app.show(change_document(dry, sysroot=str(tree)))

        _heading(app, 4, f"Convert {dev} to system-ram (kmem); blocks stay offline for now")
        done = change.reconfigure(door, req, opts)
        app.show(change_document(done, sysroot=str(tree)))
        if done.outcome is None or done.outcome.status != "changed":
            return int(done.outcome.exit_code if done.outcome else ExitCode.FAILED)

        blocks = len(discover(door, with_nd=False).dax_device(dev).blocks)  # type: ignore[union-attr]
        half = max(blocks // 2, 1)
        _heading(app, 5, f"Online half of it ({half} of {blocks} blocks) into ZONE_MOVABLE")
        onl = change.online(door, BlockRequest(device=dev, count=half, zone="movable"), opts)
        app.show(change_document(onl, sysroot=str(tree)))

        _heading(app, 6, "NUMA topology after")
        app.show(topology_document(topology_view(door)))

        _heading(app, 7, f"Memory blocks of {dev}")
        app.show(blocks_document(blocks_view(door, device=dev)))
        app.say("")
        try_it = command_line("reconfigure", dev, "--mode", "devdax", "--dry-run", sysroot=str(tree))
        app.say(f"Try it yourself: {try_it}"
                if keep else "Run 'pmemctl demo --keep DIR' to keep the simulated machine and explore it.")
        return int(onl.outcome.exit_code) if onl.outcome else 0
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _refuse_unsuitable(scenario: str, params: dict[str, str], keep: Optional[str]) -> None:
    """Before anything is built (big takes a minute): the scenario must have
    a dax device bound to device_dax to convert, and --keep a new or empty
    directory."""
    import os

    from pmemctl.errors import NotFound, UsageError
    from pmemctl.sim.scenario import ScenarioError, load_scenario

    if keep is not None and os.path.lexists(keep) and (not os.path.isdir(keep) or os.listdir(keep)):
        raise UsageError(f"--keep {keep} already exists and is not an empty directory; nothing was built",
                         hint="give a new directory (it is created) or remove that one")
    try:
        spec = load_scenario(scenario, params)
    except ScenarioError as err:
        raise NotFound(f"no scenario {scenario!r}: {err}", hint="'pmemctl sim list' lists them") from err
    if not any(d.driver == "device_dax" for d in spec.machine.dax_devices):
        raise NotFound(f"scenario {scenario!r} has no devdax device to convert, so the demo cannot run on it; "
                       "nothing was built", hint="try --scenario qemu-nvdimm, optane-2s or cxl-hmem")
