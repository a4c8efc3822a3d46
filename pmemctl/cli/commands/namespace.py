"""``pmemctl namespace``: create, reconfigure and destroy namespaces; plan sizes.

Each subcommand parses options, calls one service in ``pmemctl.ops.services``
and renders the plan and outcome with the change renderers (the same words,
exact writes and JSON as ``pmemctl reconfigure``).
"""

from __future__ import annotations

from typing import Any, Callable, Optional, TypeVar

import click

from pmemctl.cli.app import App
from pmemctl.cli.commands import complete_namespaces, complete_regions, json_option

F = TypeVar("F", bound=Callable[..., Any])

_MODES = ["devdax", "fsdax", "sector", "raw"]


def _options(f: F) -> F:
    f = click.option(
        "--backend", type=click.Choice(["auto", "ndctl", "sysfs"]), default="auto", show_default=True,
        help="ndctl: run the real ndctl (argument lists, never a shell). sysfs: the same sysfs sequence "
        "libndctl performs, natively. auto: ndctl when installed and the sysroot is /, sysfs otherwise.",
    )(f)
    f = click.option("--dry-run", is_flag=True,
                     help="Print the plan (in words, and as the exact writes or ndctl command lines) and stop.")(f)
    f = click.option("-y", "--yes", is_flag=True, help="Confirm a destructive change without asking.")(f)
    f = click.option(
        "-f", "--force", is_flag=True,
        help="Proceed when a process holds the namespace open, or its memory is online as system RAM "
        "(it is offlined first). A mounted filesystem is never overridden.",
    )(f)
    f = click.option("--all-steps", is_flag=True, help="List every step, not a summary of long block walks.")(f)
    return f


def _finish(app: App, command: str, backend: str, result: Any, as_json: bool, all_steps: bool, force: bool) -> int:
    from pmemctl.cli.commands.change import _finish as finish
    from pmemctl.cli.commands.change import exit_code_of

    if as_json:
        # the change document, plus which backend ran it
        from pmemctl.cli.render.change import change_json

        app.emit_json(change_json(command, app.sysroot, result, backend=backend))
        return exit_code_of(result, force)
    return finish(app, command, result, False, all_steps, force)


def _run(app: App, dry_run: bool, yes: bool, force: bool) -> Any:
    from pmemctl.cli.commands.change import _apply_options

    return _apply_options(app, dry_run, yes, force)


def _backend_of(result: Any) -> str:
    for action in result.plan.actions:
        backend = getattr(action, "backend", None)
        if backend:
            return str(backend)
    return "none"


@click.group("namespace")
def group() -> None:
    """Create, reconfigure and destroy NVDIMM namespaces, and plan their sizes.

    NS is a namespace name (namespace0.1 or 0.1), its uuid, or its name
    (--name at creation); a name shared by several namespaces is refused
    and the candidates are listed.
    """


@group.command("create")
@click.option("-r", "--region", required=True, metavar="REGION", shell_complete=complete_regions,
              help="Region to carve from (region1 or 1).")
@click.option("-s", "--size", required=True, metavar="SIZE",
              help="Namespace size (96G, 512M, bytes; GB is 10^9), or max: the largest that fits, as ndctl's default. "
              "A size that does not fit gets the nearest valid ones.")
@click.option("-m", "--mode", type=click.Choice(_MODES), required=True,
              help="devdax (/dev/daxX.Y, can become system RAM), fsdax (/dev/pmemX with DAX), "
              "sector (/dev/pmemXs, atomic sectors) or raw.")
@click.option("-a", "--align", metavar="A", help="devdax/fsdax page alignment (4K, 2M, 1G; default 2M).")
@click.option("-n", "--name", metavar="NAME", help="A name for the namespace (at most 63 bytes).")
@_options
@json_option
@click.pass_obj
def create(app: App, region: str, size: str, mode: str, align: Optional[str], name: Optional[str], backend: str,
           dry_run: bool, yes: bool, force: bool, all_steps: bool, as_json: bool) -> int:
    """Create a namespace of SIZE in REGION, in MODE.

    Checks that SIZE is a multiple of the region alignment and interleave
    width, at least 16 MiB, and fits the largest free extent; otherwise it
    names the nearest valid sizes.  Nothing is destroyed: only free space
    is used.
    """
    from pmemctl.ops.requests import CreateRequest
    from pmemctl.ops.services import namespace_create as service

    result = service(app.open_door(), CreateRequest(region, size, mode, align, name, backend),
                     _run(app, dry_run, yes, force))
    return _finish(app, "namespace create", _backend_of(result), result, as_json, all_steps, force)


@group.command("reconfigure")
@click.argument("ns", metavar="NS", shell_complete=complete_namespaces)
@click.option("-m", "--mode", type=click.Choice(_MODES), required=True, help="The new mode.")
@click.option("-a", "--align", metavar="A", help="devdax/fsdax page alignment (default 2M).")
@_options
@json_option
@click.pass_obj
def reconfigure(app: App, ns: str, mode: str, align: Optional[str], backend: str, dry_run: bool, yes: bool,
                force: bool, all_steps: bool, as_json: bool) -> int:
    """Change namespace NS to MODE in place (its data is lost).

    Disables it, wipes its info block and sets up the new personality, as
    'ndctl create-namespace -e NS -f' does.  Refused while its block device
    is mounted; needs --force while a process has it open or its memory is
    online as system RAM; always needs --yes (or an answer on a terminal).
    For system RAM use 'pmemctl reconfigure NS --mode system-ram'.
    """
    from pmemctl.ops.requests import NsReconfigureRequest
    from pmemctl.ops.services import namespace_reconfigure as service

    result = service(app.open_door(), NsReconfigureRequest(ns, mode, align, backend), _run(app, dry_run, yes, force))
    return _finish(app, "namespace reconfigure", _backend_of(result), result, as_json, all_steps, force)


@group.command("destroy")
@click.argument("ns", metavar="NS", shell_complete=complete_namespaces)
@_options
@json_option
@click.pass_obj
def destroy(app: App, ns: str, backend: str, dry_run: bool, yes: bool, force: bool, all_steps: bool,
            as_json: bool) -> int:
    """Destroy namespace NS (its data is lost) and give its space back.

    Disables it, wipes its info block and deletes it ('ndctl
    destroy-namespace -f').  A label-less namespace cannot be deleted: it
    is left raw and disabled.  The same refusals as reconfigure apply.
    """
    from pmemctl.ops.requests import DestroyRequest
    from pmemctl.ops.services import namespace_destroy as service

    result = service(app.open_door(), DestroyRequest(ns, backend), _run(app, dry_run, yes, force))
    return _finish(app, "namespace destroy", _backend_of(result), result, as_json, all_steps, force)


@group.command("plan")
@click.option("-r", "--region", required=True, metavar="REGION", shell_complete=complete_regions,
              help="Region to carve from.")
@click.option("--system-ram", "system_ram", required=True, metavar="SIZE",
              help="How much system RAM the namespace should give (whole memory blocks).")
@click.option("-a", "--align", metavar="A", help="devdax alignment (default 2M).")
@json_option
@click.pass_obj
def plan(app: App, region: str, system_ram: str, align: Optional[str], as_json: bool) -> int:
    """Which devdax namespace size gives exactly SIZE of system RAM.

    Accounts for the region's free extent, alignment and interleave width,
    the devdax info block and memmap (1/64 of the size), and the memory
    block size kmem adds memory in.  Changes nothing.
    """
    from pmemctl.errors import ExitCode
    from pmemctl.ops.requests import SizePlanRequest
    from pmemctl.ops.services import namespace_size_plan as size_plan

    result = size_plan(app.open_door(writes=False), SizePlanRequest(region, system_ram, align))
    p = result.plan
    if as_json:
        from pmemctl.cli.render.json import namespace_plan_json

        app.emit_json(namespace_plan_json(app.sysroot, result))
    else:
        app.show(_plan_document(result))
    return int(ExitCode.OK if p.exact else ExitCode.REFUSED)


def _plan_document(result: Any) -> Any:
    from pmemctl.cli.render.doc import Document, KeyValues, Lines
    from pmemctl.units import exact_size, format_size

    p = result.plan
    g = result.geometry
    bs = p.block_size
    region = [
        ("region", g.name),
        ("free", f"{format_size(g.available)} in the largest extent"),
        ("alignment", f"{exact_size(g.align)} ({g.ways}-way interleave)"),
        ("memory block", exact_size(bs)),
    ]
    blocks: list[Any] = [KeyValues(tuple(region), title="Region", key_width=14)]
    if p.exact and p.ns_size is not None:
        assert p.usable is not None
        pairs = [
            ("system RAM", f"{format_size(p.ram)} = {p.blocks} block(s) of {exact_size(bs)}"),
            ("namespace", f"--size {exact_size(p.ns_size)} ({p.ns_size} bytes)"),
            ("devdax size",
             f"{format_size(p.usable)} (info block and memmap take {format_size(p.ns_size - p.usable)})"),
            ("blocks", f"memory{p.first_block}-memory{(p.first_block or 0) + p.blocks - 1}"
                       + ("" if p.start is not None else " (assuming a block-aligned start)")),
        ]
        if p.start is not None:
            pairs.append(("placed at", f"{p.start:#x} (the first free extent that fits)"))
        blocks.append(KeyValues(tuple(pairs), title="Plan", key_width=14))
        blocks.append(Lines((result.command,), title="Command", indent=2))
    else:
        lines = [p.problem or "no size fits"]
        for n, s in p.nearest:
            lines.append(f"nearest: {format_size(n * bs)} ({n} block(s)) with --size {exact_size(s)}")
        if p.most is not None and p.most not in p.nearest:
            lines.append(f"most this region gives: {format_size(p.most[0] * bs)} with --size {exact_size(p.most[1])}")
        blocks.append(Lines(tuple(lines), title="No exact fit", indent=2))
    return Document.of(blocks)
