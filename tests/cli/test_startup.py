"""Start-up: what a command imports, checked exactly (issue 14).

The time itself (``pmemctl list`` on a tiny tree and ``--version`` against
``import click``, cpu time of the installed command) is a benchmark, not a
test: bench/bench_startup.py prints it next to its target.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from pmemctl.cli.main import COMMANDS, SUMMARIES, cli

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
ENV.pop("PMEMCTL_SYSROOT", None)

HEAVY = (
    "rich",
    "pmemctl.ops",
    "pmemctl.model",
    "pmemctl.sysfs",
    "pmemctl.errors",
    "pmemctl.cli.commands",
    "importlib.metadata",
    "json",
)

_PROBE = """
import sys
from pmemctl.cli.main import main
try:
    main({args!r})
except SystemExit:
    pass
print(" ".join(sorted(sys.modules)), file=sys.stderr)
"""


def loaded_modules(args: list[str], cwd: Path = REPO) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(args=args)], env=ENV, cwd=cwd, capture_output=True, text=True, check=True
    )
    return set(proc.stderr.split())


def test_version_imports_nothing_heavy() -> None:
    mods = loaded_modules(["--version"])
    heavy = sorted(m for m in mods if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == [], f"pmemctl --version imported {heavy}"


def test_piped_blocks_does_not_import_rich() -> None:
    mods = loaded_modules(["blocks"])  # stdout is a pipe here
    assert "pmemctl.ops.read" in mods
    assert not any(m == "rich" or m.startswith("rich.") for m in mods)


@pytest.fixture(scope="module")
def tiny_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pmemctl.sim import load_scenario, materialise

    return materialise(load_scenario("qemu-nvdimm"), tmp_path_factory.mktemp("startup") / "tiny")


def test_piped_list_imports_only_its_own_path(tiny_tree: Path) -> None:
    """``list`` piped: its command module and the read path, no other
    command, no simulator, no rich, no dataclass decoration (the records
    are plain classes: pmemctl.immutable) and no gettext lookup (main.py
    makes the help and version options)."""
    mods = loaded_modules(["--sysroot", str(tiny_tree), "list"])
    assert {"pmemctl.cli.commands.list", "pmemctl.ops.read", "pmemctl.cli.render.plain"} <= mods
    commands = sorted(m for m in mods if m.startswith("pmemctl.cli.commands."))
    assert commands == ["pmemctl.cli.commands.list"]
    unwanted = ("rich", "pmemctl.sim", "dataclasses", "subprocess", "pmemctl.cli.render.json", "pmemctl.ops.plan",
                "json", "locale")  # locale: what click's gettext call for its help option's text imports
    found = sorted(m for m in mods if any(m == u or m.startswith(u + ".") for u in unwanted))
    assert found == [], f"pmemctl list imported {found}"


def test_help_imports_no_command_module() -> None:
    mods = loaded_modules(["--help"])
    assert sorted(m for m in mods if m.startswith("pmemctl.cli.commands")) == []


_HELP_ALL_LOADED = """
import sys
from pmemctl.cli.main import COMMANDS, cli, main
import click
ctx = click.Context(cli)
for name in COMMANDS:
    cli.get_command(ctx, name)
try:
    main(["--help"])
except SystemExit:
    pass
"""


@pytest.mark.parametrize("columns", ["60", "100"])
def test_help_lists_every_command_as_the_commands_themselves_would(columns: str) -> None:
    """The summaries table gives the very text of the loaded commands."""
    env = {**ENV, "COLUMNS": columns}
    lazy = subprocess.run([sys.executable, "-m", "pmemctl", "--help"], env=env, cwd=REPO,
                          capture_output=True, text=True, check=True).stdout
    loaded = subprocess.run([sys.executable, "-c", _HELP_ALL_LOADED], env=env, cwd=REPO,
                            capture_output=True, text=True, check=True).stdout
    assert lazy == loaded
    for name in COMMANDS:
        assert f"\n  {name} " in lazy


def test_summaries_are_the_commands_first_paragraphs() -> None:
    assert SUMMARIES.keys() == COMMANDS.keys()
    ctx = click.Context(cli)
    for name in COMMANDS:
        cmd = cli.get_command(ctx, name)
        assert cmd is not None and not cmd.hidden and not cmd.short_help, name
        for limit in (20, 45, 63, 80, 200):
            short = click.utils.make_default_short_help(SUMMARIES[name], limit)
            assert short == cmd.get_short_help_str(limit), (name, limit)
