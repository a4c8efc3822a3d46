"""``pmemctl boot install|uninstall|status``: systemd units that apply the layout at boot.

The command parses options, calls one service in :mod:`pmemctl.ops.boot` and
renders the result (words, the exact shell with ``--dry-run``, or ``--json``).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Optional

import click

from pmemctl.cli.app import App

if TYPE_CHECKING:  # pragma: no cover
    from pmemctl.cli.render.doc import Document
    from pmemctl.ops.boot import BootSettings, BootStatus, FileOutcome, FilePlan

_ROOT_HELP = ("Install under this directory instead of the sysroot (an image being built, a chroot); "
              "the units still name paths of the machine that boots from it.")


def pmemctl_executable() -> tuple[str, ...]:
    """The command the units run: the pmemctl script that is running now
    (absolute), else the first ``pmemctl`` on PATH, else this interpreter
    with ``-m pmemctl``."""
    import shutil

    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0) == "pmemctl" and os.path.isfile(argv0) and os.access(argv0, os.X_OK):
        return (os.path.abspath(argv0),)
    if os.path.basename(argv0) != "__main__.py":
        found = shutil.which("pmemctl")
        if found:
            return (os.path.abspath(found),)
    return (os.path.abspath(sys.executable), "-m", "pmemctl")


@click.group("boot")
def group() -> None:
    """Install the systemd units that apply the layout at every boot.

    pmemctl-apply.service runs 'pmemctl apply --wait N --yes' once per boot,
    after udev coldplug and module loading; pmemctl-memory.target is reached
    when it has finished, and workloads named with --before order themselves
    after that target.  See 'Provisioning at boot' in the README.
    """


@group.command("install")
@click.option("--root", "root", metavar="DIR", default=None, help=_ROOT_HELP)
@click.option("--before", "before", metavar="UNIT", multiple=True,
              help="A workload unit that must start after the memory is online (repeatable): gets a drop-in "
                   "UNIT.d/50-pmemctl.conf with After= and Wants= pmemctl-memory.target.")
@click.option("--udev-rule", is_flag=True,
              help="Also install a udev rule that re-runs the (idempotent) apply when a dax device is added later.")
@click.option("--wait", "wait", type=click.IntRange(min=0), default=60, show_default=True, metavar="SECONDS",
              help="How long apply waits at boot for the devices the layout expects.")
@click.option("--timeout", "timeout", type=click.IntRange(min=1), default=900, show_default=True,
              metavar="SECONDS", help="TimeoutStartSec= of pmemctl-apply.service (waiting, onlining, verifying).")
@click.option("--dry-run", is_flag=True, help="Show the files and their content, write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the boot document (see JSON schema).")
@click.pass_obj
def install(app: App, root: Optional[str], before: tuple[str, ...], udev_rule: bool, wait: int, timeout: int,
            dry_run: bool, as_json: bool) -> int:
    """Install pmemctl-apply.service, pmemctl-memory.target and the drop-ins.

    Files are written atomically under --root (default: the sysroot) and
    never through a symbolic link; a manifest (/etc/pmemctl/boot-units.json)
    records them so 'boot uninstall' removes exactly these.  Installing
    again with other options rewrites the set; installing again with the
    same options changes nothing and exits 3.  Run 'systemctl
    daemon-reload' afterwards on a running system.
    """
    from pmemctl.ops.boot import BootSettings, plan_install

    target = root or app.sysroot
    settings = BootSettings(exec_start=pmemctl_executable(), before=before, udev_rule=udev_rule, wait=wait,
                            timeout=timeout)
    plan = plan_install(target, settings)
    return _carry_out(app, "boot install", plan, dry_run, as_json)


@group.command("uninstall")
@click.option("--root", "root", metavar="DIR", default=None, help=_ROOT_HELP)
@click.option("--dry-run", is_flag=True, help="Show the files that would be removed, remove nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the boot document (see JSON schema).")
@click.pass_obj
def uninstall(app: App, root: Optional[str], dry_run: bool, as_json: bool) -> int:
    """Remove exactly the files 'boot install' wrote.

    A file edited since it was installed is left in place, with a warning.
    Exit 3 when nothing is installed.
    """
    from pmemctl.ops.boot import plan_uninstall

    return _carry_out(app, "boot uninstall", plan_uninstall(root or app.sysroot), dry_run, as_json)


@group.command("status")
@click.option("--root", "root", metavar="DIR", default=None, help=_ROOT_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the boot document (see JSON schema).")
@click.pass_obj
def status(app: App, root: Optional[str], as_json: bool) -> int:
    """Say which boot files are installed and whether they match the templates.

    Each file is current, outdated (pmemctl's templates changed since:
    install again), modified (edited by hand) or missing.  Exit 0 when
    nothing is installed or everything is current, 11 otherwise.
    """
    from pmemctl.errors import ExitCode
    from pmemctl.ops.boot import boot_status

    st = boot_status(root or app.sysroot)
    state = "not-installed" if not st.installed else "current" if st.current else "drifted"
    if as_json:
        app.emit_json(_status_json(app, st, state))
    else:
        app.show(_status_document(st, state, _install_command(app, root, st.settings)))
    return int(ExitCode.DRIFT if state == "drifted" else ExitCode.OK)


def _carry_out(app: App, command: str, plan: "FilePlan", dry_run: bool, as_json: bool) -> int:
    from pmemctl.errors import ExitCode
    from pmemctl.ops.boot import apply_file_plan

    outcome = None
    if not plan.is_noop and not dry_run:
        outcome = apply_file_plan(plan)
    state = "unchanged" if plan.is_noop else "planned" if dry_run else "changed"
    if as_json:
        app.emit_json(_plan_json(app, command, plan, dry_run, state))
    else:
        app.show(_plan_document(app, command, plan, dry_run, state, outcome))
    return int(ExitCode.NO_CHANGE if plan.is_noop else ExitCode.OK)


# --------------------------------------------------------------------------
# documents


def _file_json(app: App, root: str, path: str, role: Any, change: Any, state: Any, content: Optional[str]) -> Any:
    from pmemctl.cli.render.json import _obj
    from pmemctl.sysfs.etcfiles import host_path

    return _obj("boot_file", path=path, host_path=host_path(root, path), role=role, change=change, state=state,
                content=content)


def _settings_json(s: Optional["BootSettings"]) -> Any:
    from pmemctl.cli.render.json import _obj

    if s is None:
        return None
    return _obj("boot_settings", exec_start=list(s.exec_start), before=list(s.before), udev_rule=s.udev_rule,
                wait=s.wait, timeout=s.timeout)


def _plan_json(app: App, command: str, plan: "FilePlan", dry_run: bool, state: str) -> dict[str, Any]:
    from pmemctl.cli.render.json import envelope

    files = [_file_json(app, plan.root, c.path, c.role, c.change, None, c.content) for c in plan.changes]
    return envelope("boot", command, app.sysroot, root=plan.root, dry_run=dry_run, state=state,
                    settings=_settings_json(plan.settings), files=files, warnings=list(plan.warnings))


def _status_json(app: App, st: "BootStatus", state: str) -> dict[str, Any]:
    from pmemctl.cli.render.json import envelope

    files = [_file_json(app, st.root, f.path, f.role, None, f.state, f.content) for f in st.files]
    return envelope("boot", "boot status", app.sysroot, root=st.root, dry_run=False, state=state,
                    settings=_settings_json(st.settings), files=files, warnings=list(st.warnings))


def _plan_document(app: App, command: str, plan: "FilePlan", dry_run: bool, state: str,
                   outcome: Optional["FileOutcome"]) -> "Document":
    from pmemctl.cli.render.doc import Document, Lines

    blocks: list[Any] = []
    if plan.settings is None:
        blocks.append(Lines((f"no pmemctl boot units are installed under {plan.root}: nothing to remove",)))
        return Document.of(blocks)
    head = {"unchanged": f"{plan.title}: already as wanted, nothing written",
            "planned": f"{plan.title} (dry run, nothing written):",
            "changed": f"{plan.title}: done"}[state]
    blocks.append(Lines((head,)))
    blocks.append(Lines(tuple(c.describe() for c in plan.changes), indent=2))
    if dry_run and not plan.is_noop:
        blocks.append(Lines(tuple(plan.shell_lines()), title="as shell", indent=2))
    if outcome is not None and outcome.removed_directories:
        blocks.append(Lines(tuple(f"removed empty directory {d}" for d in outcome.removed_directories), indent=2))
    if plan.warnings:
        blocks.append(Lines(tuple(f"warning: {w}" for w in plan.warnings)))
    if state == "changed":
        blocks.append(Lines(("next: systemctl daemon-reload"
                             + (" && udevadm control --reload" if plan.settings.udev_rule else "")
                             + " (on the running system booted from this root)",)))
    return Document.of(blocks)


def _install_command(app: App, root: Optional[str], settings: Optional["BootSettings"]) -> str:
    """The ``boot install`` line that (re)installs these units: the same
    sysroot or --root, and the options recorded in the manifest."""
    from pmemctl.commandline import command_line

    words = ["boot", "install"] + (["--root", os.path.abspath(root)] if root else [])
    if settings is not None:
        for unit in settings.before:
            words += ["--before", unit]
        words += ["--udev-rule"] if settings.udev_rule else []
        words += ["--wait", str(settings.wait), "--timeout", str(settings.timeout)]
    return command_line(*words, sysroot=None if root else app.sysroot)


def _status_document(st: "BootStatus", state: str, install: str) -> "Document":
    from pmemctl.cli.render.doc import Column, Document, KeyValues, Lines, table

    if st.settings is None:
        return Document.of([Lines((f"no pmemctl boot units are installed under {st.root} "
                                   f"(install them with '{install}')",))])
    s = st.settings
    blocks: list[Any] = [KeyValues((
        ("state", state),
        ("runs", " ".join(s.exec_start) + f" apply --wait {s.wait} --yes"),
        ("start timeout", f"{s.timeout}s"),
        ("before", ", ".join(s.before) or "-"),
        ("udev rule", "yes" if s.udev_rule else "no"),
    ), title=f"pmemctl boot units under {st.root}")]
    blocks.append(table((Column("FILE"), Column("ROLE"), Column("STATE")),
                        [(f.path, str(f.role), str(f.state)) for f in st.files]))
    if state == "drifted" or st.warnings:
        blocks.append(Lines((f"run '{install}' to put them back",)))
    if st.warnings:
        blocks.append(Lines(tuple(f"warning: {w}" for w in st.warnings)))
    return Document.of(blocks)
