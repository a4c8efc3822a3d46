"""``pmemctl sim``: build simulated machines to point --sysroot at."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Optional

import click

from pmemctl.cli.app import App
from pmemctl.cli.commands import complete_scenarios, json_option
from pmemctl.sim.kernels import DEFAULT_KERNEL, kernel_names


def _scenarios() -> Any:
    from pmemctl.sim.scenario import list_scenarios

    return list_scenarios()


@click.group("sim")
def group() -> None:
    """Build simulated machines (sysfs trees) to try pmemctl on.

    A tree made by 'pmemctl sim create DIR' is read with
    'pmemctl --sysroot DIR ...' exactly like a real machine.
    """


@group.command("list")
@json_option
@click.pass_obj
def list_command(app: App, as_json: bool) -> None:
    """List the scenarios 'pmemctl sim create' can build, with their parameters."""
    scenarios = _scenarios()
    if as_json:
        from pmemctl.cli.render.json import sim_list_json

        app.emit_json(sim_list_json(app.sysroot, scenarios))
        return
    from pmemctl.cli.render.doc import Column, Document, table

    rows = []
    for s in scenarios:
        rows.append((s.name, "", s.summary))
        for p in s.params:
            values = "|".join(p.choices) if p.choices else "VALUE"
            rows.append(("", f"--set {p.name}={values}", f"{p.help} (default {p.default})"))
    app.show(Document.of([table((Column("NAME"), Column("PARAMETERS"), Column("SUMMARY")), rows)]))


def _parse_sets(values: tuple[str, ...]) -> dict[str, str]:
    from pmemctl.errors import UsageError

    params: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r} is not key=value", hint="e.g. --set stage=system-ram")
        params[key.strip()] = value.strip()
    return params


@group.command("create")
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=str))
@click.option(
    "-s",
    "--scenario",
    "name",
    metavar="NAME",
    required=True,
    shell_complete=complete_scenarios,
    help="Scenario to build (see 'pmemctl sim list').",
)
@click.option(
    "--set",
    "sets",
    metavar="KEY=VALUE",
    multiple=True,
    help="Scenario parameter, e.g. stage=system-ram (qemu-nvdimm) or blocks=4096 (big); repeatable.",
)
@click.option(
    "--kernel",
    type=click.Choice(kernel_names()),
    default=DEFAULT_KERNEL,
    show_default=True,
    help="Kernel the machine runs: its attributes, memory tiers (from HMAT since 6.7) and write answers; "
    "6.12+dax-state is 6.12 with the proposed whole-device hotplug file daxX.Y/state (no released kernel has it: "
    "simulator only).",
)
@click.option(
    "-f",
    "--force",
    is_flag=True,
    help="Replace DIR when it already holds a tree made by 'pmemctl sim create'.",
)
@click.option(
    "--condition",
    "conditions",
    metavar="NAME[=VALUE]",
    multiple=True,
    help="Put a problem pmemctl doctor finds into the tree (e.g. udev-rule, stranded, no-srat); repeatable; "
    "'pmemctl sim conditions' lists them.",
)
@click.pass_obj
def create_command(app: App, directory: str, name: str, sets: tuple[str, ...], kernel: str, force: bool,
                   conditions: tuple[str, ...] = ()) -> None:
    """Write the sysfs tree of scenario NAME into DIR.

    DIR must be empty or absent.  With --force, a DIR that holds an earlier
    simulated tree is replaced; any other non-empty directory is refused, so
    a mistyped path never loses data.
    """
    import shutil

    from pmemctl.cli.progress import build_bar
    from pmemctl.commandline import command_line
    from pmemctl.sim.build import materialise
    from pmemctl.sim.scenario import load_scenario
    from pmemctl.sysfs.door import SIM_MARKER_DIR, is_simulated_tree

    scenario = load_scenario(name, _parse_sets(sets), kernel=kernel)  # unknown name or parameter: nothing touched
    # click.Path already refused an existing file
    target = _replaceable_target(directory, force, what="simulated tree", marker=f"{SIM_MARKER_DIR}/",
                                 holds=is_simulated_tree, remove=shutil.rmtree)

    if conditions:
        from pmemctl.sim.conditions import parse_conditions

        _condition_errors(lambda: parse_conditions(conditions))  # a typo: nothing touched
    # a big tree takes minutes: a progress bar on a terminal (nothing when piped)
    with _writing(target, "simulated tree"), build_bar(app, f"building {scenario.name}") as progress:
        root = materialise(scenario, target, progress=progress)
    if conditions:
        from pmemctl.sim.conditions import apply_conditions

        _condition_errors(lambda: apply_conditions(root, conditions), cleanup=str(root))
    app.say(f"created scenario {scenario.name} (kernel {kernel}) in {root}")
    app.say("try: " + command_line("list", sysroot=str(root)))


@group.command("record")
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=str))
@click.option(
    "-f",
    "--force",
    is_flag=True,
    help="Replace DIR when it already holds a tree made by 'pmemctl sim record'.",
)
@json_option
@click.pass_obj
def record_command(app: App, directory: str, force: bool, as_json: bool) -> None:
    """Record the pmem-relevant sysfs and procfs of the machine into DIR.

    Copies memory blocks, NUMA nodes, CPUs, the nd and dax buses with their
    device trees, memory tiers, the hotplug module parameters and
    /proc/{iomem,cmdline,meminfo} of the machine at --sysroot (default /)
    into DIR, as a tree any pmemctl command reads with --sysroot DIR.  Use
    it as a support capture.  A recording of this machine is read-only: no
    kernel reacts to writes into it (use the read commands and --dry-run);
    a recording of a simulated tree stays a working simulated machine.
    DIR must be empty or absent; --force replaces an earlier recording.
    """
    import os

    from pmemctl.commandline import command_line
    from pmemctl.errors import NotASysfsTree, Refused
    from pmemctl.sim.record import RECORD_FILE, record, remove_recording

    source = os.path.abspath(app.sysroot)
    if not os.path.isdir(os.path.join(source, "sys", "devices")):
        raise NotASysfsTree(app.sysroot, os.path.join(source, "sys", "devices"))
    target = _replaceable_target(directory, force, what="recording", marker=RECORD_FILE,
                                 holds=lambda t: os.path.isfile(os.path.join(t, RECORD_FILE)),
                                 remove=remove_recording)
    try:
        with _writing(target, "recording"):
            rec = record(target, source)
    except ValueError as err:
        raise Refused(str(err), hint="record into a directory outside the machine's tree") from None
    if as_json:
        from pmemctl.cli.render.json import sim_record_json

        app.emit_json(sim_record_json(app.sysroot, rec.to_dict()))
        return
    kind = "simulated machine (writes are simulated)" if rec.simulated else "read-only capture"
    app.say(
        f"recorded {source} into {target}: {rec.files} files, {rec.links} links, "
        f"{len(rec.errors)} unreadable, {rec.seconds:.1f}s; {kind}"
    )
    if rec.missing:
        app.say(f"absent on this machine: {', '.join(rec.missing)}")
    app.say("try: " + command_line("blocks", sysroot=str(target)))


def _replaceable_target(directory: str, force: bool, *, what: str, marker: str,
                        holds: Callable[[str], bool], remove: Callable[[str], None]) -> str:
    """DIR as an absolute path, empty or absent: a non-empty one is refused,
    unless --force is given and it holds an earlier ``what`` (its ``marker``
    is there), which is then removed.  Anything else is never deleted."""
    import os

    from pmemctl.errors import Refused

    target = os.path.abspath(directory)
    if os.path.isdir(target) and os.listdir(target):
        if not force:
            raise Refused(f"{target} is not empty",
                          hint=f"choose an empty directory, or pass --force to replace an earlier {what}")
        if not holds(target):
            raise Refused(f"{target} is not empty and holds no {what} ({marker} is missing)",
                          hint="refusing to delete it even with --force; choose an empty directory")
        remove(target)
    return target


def _condition_errors(run: Callable[[], object], cleanup: Optional[str] = None) -> None:
    """A condition that is unknown or does not fit the scenario: a usage error (the half-made tree removed)."""
    from pmemctl.errors import UsageError
    from pmemctl.sim.conditions import ConditionError

    try:
        run()
    except ConditionError as err:
        if cleanup is not None:
            import shutil

            shutil.rmtree(cleanup, ignore_errors=True)
        raise UsageError(str(err), hint="see 'pmemctl sim conditions'") from None


@group.command("conditions")
@json_option
@click.pass_obj
def conditions_command(app: App, as_json: bool) -> None:
    """List the conditions 'pmemctl sim create --condition' can put into a tree."""
    from pmemctl.cli.render.doc import Column, Document, table
    from pmemctl.sim.conditions import CONDITIONS

    if as_json:
        from pmemctl.cli.render.json import sim_conditions_json

        app.emit_json(sim_conditions_json(app.sysroot, sorted(CONDITIONS.values(), key=lambda c: c.name)))
        return
    rows = [(c.name + ("=VALUE" if c.value else ""), c.help + (f" (VALUE: {c.value})" if c.value else ""))
            for c in sorted(CONDITIONS.values(), key=lambda c: c.name)]
    app.show(Document.of([table((Column("CONDITION"), Column("WHAT IT PUTS INTO THE TREE")), rows)]))


@group.command("unpack")
@click.argument("bundle", metavar="BUNDLE.tar.gz", type=click.Path(dir_okay=False, path_type=str))
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=str))
@click.pass_obj
def unpack_command(app: App, bundle: str, directory: str) -> None:
    """Unpack a support bundle ('pmemctl doctor --bundle') into DIR.

    Every member is checked first: only files, directories and links that
    stay inside the bundle, and the bundle's metadata must be there; a
    truncated or foreign file is refused and DIR is left as it was.  Then
    'pmemctl --sysroot DIR doctor' reads the machine the bundle came from.
    """
    import os

    from pmemctl.commandline import command_line
    from pmemctl.errors import NotFound, Refused, UsageError
    from pmemctl.sim.bundle import BadBundle, unpack_bundle

    if not os.path.isfile(bundle):
        raise NotFound(f"bundle {bundle} does not exist", hint="give the file 'pmemctl doctor --bundle' wrote")
    try:
        meta = unpack_bundle(bundle, directory)
    except BadBundle as err:
        raise UsageError(str(err), hint="ask for the bundle again ('pmemctl doctor --bundle FILE.tar.gz')") from None
    except FileExistsError as err:
        raise Refused(str(err), hint="unpack into an empty or new directory") from None
    target = os.path.abspath(directory)
    app.say(f"unpacked the bundle of {meta.get('source')} taken {meta.get('time')} into {target}")
    app.say("try: " + command_line("doctor", sysroot=target))


@contextlib.contextmanager
def _writing(target: str, what: str) -> Iterator[None]:
    """An OSError while writing a tree (a directory under /proc, one this user
    may not write, a full disk) as one sentence, not an internal error."""
    from pmemctl.errors import PmemctlError, os_error_text

    try:
        yield
    except OSError as err:
        where = err.filename or target
        raise PmemctlError(f"cannot write the {what} {target}: {where}: {os_error_text(err)}",
                           hint="choose a directory you can write, outside /proc and /sys") from None
