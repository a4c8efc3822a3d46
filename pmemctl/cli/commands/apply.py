"""``pmemctl apply``: bring the machine to the provisioning layout."""

from __future__ import annotations

from typing import Optional

import click

from pmemctl.cli.app import App
from pmemctl.cli.commands import MAX_SECONDS, Seconds, json_option


def config_option(f):  # type: ignore[no-untyped-def]
    return click.option(
        "-c", "--config", "config_files", multiple=True, metavar="FILE", type=click.Path(dir_okay=False),
        help="Read this layout file instead of etc/pmemctl/pmemctl.toml and etc/pmemctl/conf.d/*.toml under the "
        "sysroot (repeatable; later files add entries, and override policy keys with a warning).",
    )(f)


@click.command("apply")
@config_option
@click.option("--check", is_flag=True, help="Compare only: a per-item difference, exit 11 when the machine differs "
              "from the layout; nothing is written.")
@click.option("--dry-run", is_flag=True, help="Print the plan (in words and as the exact writes) and stop.")
@click.option("--wait", type=Seconds(), metavar="SECONDS",
              help=f"Wait up to SECONDS (at most {MAX_SECONDS:g}) for the devices the layout expects to appear "
              "(devices probe late at boot; on this machine each nd or dax uevent ends a pause, a tree is polled), "
              "then report those that never came.")
@click.option("-y", "--yes", is_flag=True, help="Confirm destructive steps (devdax contents lost, memory taken "
              "away) without asking.")
@click.option("-f", "--force", is_flag=True, help="Proceed past refusals that can be overridden (see --dry-run).")
@json_option
@click.pass_obj
def command(app: App, config_files: tuple[str, ...], check: bool, dry_run: bool, wait: Optional[float], yes: bool,
            force: bool, as_json: bool) -> int:
    """Bring the machine to its provisioning layout.

    Reads the layout (pmemctl-layout(5): etc/pmemctl/pmemctl.toml and
    etc/pmemctl/conf.d/*.toml under the sysroot, or --config FILE), matches
    each entry to devices by stable identity (namespace uuid, dax uuid,
    namespace name, physical range, node), and applies the difference as one
    plan with the checks, journal, verification and rollback of
    'reconfigure'.  Exit 0 changed and verified; 3 already converged
    (nothing written, not even the lock); 11 the machine differs (--check,
    or a device missing); 2 bad layout file; 5 refused; 6 rolled back;
    7 rollback incomplete; 10 locked.
    """
    from pmemctl.cli.commands.change import _apply_options
    from pmemctl.ops.layout import ApplyRequest, apply_layout

    req = ApplyRequest(files=tuple(config_files) or None, check=check, wait=wait)
    result = apply_layout(app.open_door(writes=not check, dry_run=dry_run or check), req,
                          _apply_options(app, dry_run, yes, force))
    if as_json:
        from pmemctl.cli.render.layout import apply_json

        app.emit_json(apply_json("apply", app.sysroot, result))
    else:
        from pmemctl.cli.render.layout import apply_document

        app.show(apply_document(result, app.sysroot))
    return int(result.exit_code)
