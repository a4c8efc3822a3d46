"""``pmemctl doctor``: why memory will not become RAM, with the fix for each."""

from __future__ import annotations

from typing import Optional

import click

from pmemctl.cli.app import App
from pmemctl.cli.commands import json_option

_GROUPS = ("firmware", "kernel", "boot", "policy", "agents", "devices", "blocks", "nodes", "layout")


@click.command("doctor")
@click.option("--explain", "explain_id", metavar="ID", help="Explain one finding ID: why it matters, what fixes it.")
@click.option("--only", type=click.Choice(_GROUPS), metavar="GROUP",
              help="Run only one group of checks: " + ", ".join(_GROUPS) + ".")
@click.option("--bundle", "bundle", metavar="FILE.tar.gz", type=click.Path(dir_okay=False, path_type=str),
              help="Also write a support bundle (sysfs recording, /proc/cmdline, /proc/iomem, kernel config, udev "
              "rules, daxctl config, kernel log lines, tool versions, layout); read it elsewhere with "
              "'pmemctl sim unpack FILE DIR' and 'pmemctl --sysroot DIR doctor'.")
@click.option("--fix", "do_fix", is_flag=True,
              help="Apply the fixes that are safe at runtime (policy writes such as auto_online_blocks) for "
              "warnings and errors, verified and rolled back on failure.")
@click.option("--dry-run", is_flag=True, help="With --fix: print the plan (in words and as the exact writes) and stop.")
@click.option("-y", "--yes", is_flag=True, help="With --fix: apply without asking.")
@json_option
@click.pass_obj
def command(app: App, explain_id: Optional[str], only: Optional[str], bundle: Optional[str], do_fix: bool,
            dry_run: bool, yes: bool, as_json: bool) -> int:
    """Find every reason memory will not become RAM, or not the RAM wanted.

    Checks, from firmware to NUMA node: ACPI tables, Soft Reserved and kmem
    claims in /proc/iomem, the kernel configuration and command line, the
    hotplug policy, udev rules and daxctl configuration that online memory
    too, alignment losses, dax device and memory block states, stranded
    memory, users of dax devices, the zone ratio and memmap cost, and
    memory tiering.  Each finding has a stable ID, a severity, evidence
    (file and value) and a fix; --explain ID gives the reasoning.

    Exit status: 0 healthy (info findings only), 12 warnings, 13 errors.
    """
    from pmemctl.errors import ExitCode, UsageError

    if explain_id is not None:
        from pmemctl.ops.doctor import explain

        rule = explain(explain_id)
        if as_json:
            from pmemctl.cli.render.doctor import explain_json

            app.emit_json(explain_json(app.sysroot, rule))
        else:
            from pmemctl.cli.render.doctor import explain_document

            app.show(explain_document(rule))
        return 0
    if (dry_run or yes) and not do_fix:
        raise UsageError("--dry-run and --yes only apply with --fix")
    from pmemctl.ops.doctor import diagnose

    # a simulated tree gets its simulated kernel (declared users of dax devices); without --fix, or with
    # --dry-run, nothing is written and a recording is fine
    door = app.open_door(writes=True, dry_run=dry_run or not do_fix)
    report = diagnose(door, only)
    result = None
    if do_fix:
        from pmemctl.cli.commands.change import _apply_options
        from pmemctl.ops.doctor import fix

        result = fix(door, report, _apply_options(app, dry_run, yes, False))
    if bundle is not None:
        from pmemctl import __version__
        from pmemctl.sim.bundle import write_bundle

        try:
            written = write_bundle(bundle, app.sysroot, pmemctl_version=__version__)
        except OSError as err:
            from pmemctl.errors import Refused, os_error_text

            raise Refused(f"cannot write the bundle {bundle}: {os_error_text(err)}",
                          hint="choose a writable path for --bundle") from None
        if not as_json:
            app.say(f"support bundle written to {written}")
    if as_json:
        from pmemctl.cli.render.doctor import doctor_json

        app.emit_json(doctor_json(app.sysroot, report, result))
    else:
        from pmemctl.cli.render.doctor import doctor_document

        app.show(doctor_document(report, result, sysroot=app.sysroot))
    if result is not None and result.outcome is not None and \
            result.outcome.exit_code not in (ExitCode.OK, ExitCode.NO_CHANGE):
        return int(result.outcome.exit_code)  # the fix failed (rolled back...): that is the news
    return int(report.exit_code)
