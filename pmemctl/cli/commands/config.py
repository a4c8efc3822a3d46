"""``pmemctl config``: validate, show, init and import-daxctl for the
provisioning layout (see pmemctl-layout(5))."""

from __future__ import annotations

from typing import Optional

import click

from pmemctl.cli.app import App
from pmemctl.cli.commands import json_option
from pmemctl.cli.commands.apply import config_option


@click.group("config")
def group() -> None:
    """The provisioning layout: check it, print it, write one for this
    machine, or convert daxctl's files."""


def _load(app: App, config_files: tuple[str, ...]):  # type: ignore[no-untyped-def]
    from pmemctl.ops.layout import load_layout

    door = app.open_door(writes=False)
    return door, load_layout(door, tuple(config_files) or None)


@group.command("validate")
@config_option
@json_option
@click.pass_obj
def validate(app: App, config_files: tuple[str, ...], as_json: bool) -> int:
    """Check the layout files: exit 0 valid, 2 invalid (one line, FILE:LINE:
    problem).  Also says what each device entry matches on this machine."""
    from pmemctl.ops.layout.service import matches

    door, layout = _load(app, config_files)
    found = {m.entry.name: m.names for m in matches(door, layout)} if layout.devices else {}
    if as_json:
        from pmemctl.cli.render.layout import layout_json

        app.emit_json(layout_json("config validate", app.sysroot, layout, found))
        return 0
    from pmemctl.cli.render.doc import Document, Lines

    lines = [f"{f}: valid" for f in layout.files] or ["no layout file found (etc/pmemctl/pmemctl.toml, "
                                                      "etc/pmemctl/conf.d/*.toml)"]
    lines += [f"{name}: matches {', '.join(names) or 'nothing'}" for name, names in found.items()]
    app.show(Document.of([Lines(tuple(lines)), *([Lines(layout.warnings, title="Warnings")] if layout.warnings
                                                 else [])]))
    return 0


@group.command("show")
@config_option
@json_option
@click.pass_obj
def show(app: App, config_files: tuple[str, ...], as_json: bool) -> int:
    """Print the merged layout (all files, in order) as one TOML file."""
    from pmemctl.ops.layout.tomlout import toml_text

    _door, layout = _load(app, config_files)
    if as_json:
        from pmemctl.cli.render.layout import layout_json

        app.emit_json(layout_json("config show", app.sysroot, layout, {}))
        return 0
    header = "".join(f"# from {f}\n" for f in layout.files)
    click.echo(header + toml_text(layout.to_toml_data()), nl=False)
    return 0


def _emit(app: App, text: str, output: Optional[str], force: bool) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    from pmemctl.errors import UsageError
    from pmemctl.sysfs.layout_files import LayoutFileProblem, write_text

    try:
        write_text(output, text, force=force)
    except LayoutFileProblem as err:
        raise UsageError(str(err)) from None
    app.say(f"wrote {output}")


@group.command("init")
@click.option("-o", "--output", metavar="FILE", type=click.Path(dir_okay=False), help="Write to FILE instead of "
              "standard output.")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@click.pass_obj
def init(app: App, output: Optional[str], force: bool) -> int:
    """Write a layout describing this machine as it is now, with stable
    selectors (namespace uuid, or the physical range for hmem and CXL), so a
    hand-tuned machine can be captured and replayed on others.  'pmemctl
    apply' with it on the same machine changes nothing (exit 3)."""
    from pmemctl.ops.layout.init import layout_of_machine

    _emit(app, layout_of_machine(app.open_door(writes=False)), output, force)
    return 0


@group.command("import-daxctl")
@click.argument("directory", metavar="[DIR]", required=False)
@click.option("-o", "--output", metavar="FILE", type=click.Path(dir_okay=False), help="Write to FILE instead of "
              "standard output.")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@click.pass_obj
def import_daxctl(app: App, directory: Optional[str], output: Optional[str], force: bool) -> int:
    """Convert daxctl's /etc/daxctl.conf.d/*.conf (or DIR) to a layout, with
    daxctl's own reading rules: only regular *.conf files, read in reverse
    alphabetical order, a key given in several files concatenated with a
    space, booleans by their first character.  Where daxctl's result is
    ambiguous the layout says so in a comment, and the command on stderr."""
    from pmemctl.ops.layout.daxctl import import_daxctl as convert

    text, notes = convert(app.open_door(writes=False), directory)
    for note in notes:
        click.echo(f"pmemctl: note: {note}", err=True)
    _emit(app, text, output, force)
    return 0
