"""Issue 15, item 15: global options are accepted after the subcommand too.

``pmemctl list --sysroot DIR`` means ``pmemctl --sysroot DIR list``; the
same for --color/--no-color, -q/--quiet and --traceback, in every command
and subcommand; a late --sysroot is checked like an early one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_support import Invoke, one_line

from pmemctl.errors import ExitCode


@pytest.fixture
def tree(fresh_tree: Any) -> Path:
    return fresh_tree("qemu-nvdimm", stage="system-ram")  # status may create var/lib/pmemctl


@pytest.mark.parametrize("args", [
    ["list", "--json"], ["blocks", "--json"], ["topology", "--json"], ["status", "--json"],
])
def test_late_sysroot_reads_the_same_machine(invoke: Invoke, tree: Path, args: list[str]) -> None:
    early = invoke("--sysroot", tree, *args)
    late = invoke(args[0], "--sysroot", tree, *args[1:])
    late_eq = invoke(*args, f"--sysroot={tree}")
    assert early.exit_code == late.exit_code == late_eq.exit_code == 0, late.stderr + late_eq.stderr
    assert json.loads(late.stdout)["sysroot"] == json.loads(early.stdout)["sysroot"]
    assert late.stdout == early.stdout == late_eq.stdout


def test_late_options_in_subcommands_of_groups(invoke: Invoke, tree: Path) -> None:
    res = invoke("namespace", "plan", "-r", "region0", "--system-ram", "1G", "--sysroot", tree)
    assert "No such option" not in res.stderr
    assert res.exit_code == invoke("--sysroot", tree, "namespace", "plan", "-r", "region0",
                                   "--system-ram", "1G").exit_code
    res = invoke("offline", "dax0.0", "--count", "1", "--dry-run", "--sysroot", tree, "--no-color")
    assert res.exit_code == 0, res.stderr
    assert "echo offline > /sys/devices/system/memory/memory62/state" in res.stdout


def test_late_quiet_and_color(invoke: Invoke, tree: Path) -> None:
    res = invoke("list", "--sysroot", tree, "-q")
    assert res.exit_code == 0 and res.stdout == ""
    res = invoke("blocks", "--no-color", "--sysroot", tree)
    assert res.exit_code == 0 and "\x1b[" not in res.stdout
    assert "No such option" not in res.stderr


@pytest.mark.parametrize("value,code", [("", ExitCode.USAGE), (" ", ExitCode.USAGE),
                                        ("/nonexistent/pmemctl", ExitCode.NOT_FOUND)])
def test_late_sysroot_is_checked_too(invoke: Invoke, value: str, code: ExitCode) -> None:
    res = invoke("offline", "--blocks", "5", "--dry-run", "--sysroot", value)
    assert res.exit_code == code
    assert "--sysroot" in one_line(res.stderr)


def test_help_of_a_command_does_not_repeat_them(invoke: Invoke) -> None:
    assert "--sysroot" not in invoke("list", "--help").stdout
    assert "may also follow the command" in invoke("--help").stdout
