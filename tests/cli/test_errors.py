"""The error funnel: one line on stderr, the documented exit code, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import Invoke, one_line

from pmemctl.cli.main import EXIT_INTERRUPTED
from pmemctl.errors import ExitCode, Refused

# -- sysroot -----------------------------------------------------------------


@pytest.mark.parametrize("command", [["list"], ["blocks"], ["topology"], ["list", "--json"], ["blocks", "--json"]])
def test_sysroot_that_is_not_a_sysfs_tree(invoke: Invoke, tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "etc").mkdir()
    result = invoke("--sysroot", tmp_path, *command)
    assert result.exit_code == ExitCode.NOT_FOUND
    line = one_line(result.stderr)
    assert f"{tmp_path} is not a sysfs tree" in line
    assert f"{tmp_path}/sys/devices" in line
    if "--json" in command:  # scripts get the same sentence as an error document
        doc = json.loads(result.stdout)
        assert doc["error"] == {"message": line.removeprefix("pmemctl: "), "status": "not-found",
                                "exit_code": ExitCode.NOT_FOUND}
    else:
        assert result.stdout == ""


def test_sysroot_that_does_not_exist(invoke: Invoke, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = invoke("--sysroot", missing, "topology")
    assert result.exit_code == ExitCode.NOT_FOUND  # issue 16 item 15; a blank one or a file is usage (2)
    assert str(missing) in one_line(result.stderr)


def test_sysroot_from_environment(invoke: Invoke, tmp_path: Path) -> None:
    result = invoke("blocks", env={"PMEMCTL_SYSROOT": str(tmp_path)})
    assert result.exit_code == ExitCode.NOT_FOUND
    assert str(tmp_path) in one_line(result.stderr)


def test_blocks_without_memory_hotplug_is_unsupported(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "sys" / "devices" / "system").mkdir(parents=True)
    result = invoke("--sysroot", tmp_path, "blocks")
    assert result.exit_code == ExitCode.UNSUPPORTED
    assert f"{tmp_path}/sys/devices/system/memory does not exist" in one_line(result.stderr)


# -- click usage errors ---------------------------------------------------------


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--bogus"], "--bogus"),
        (["list", "--bogus"], "--bogus"),
        (["frobnicate"], "frobnicate"),
        (["blocks", "--node", "one"], "one"),
        (["sim", "create"], "DIR"),
    ],
)
def test_usage_errors_exit_2_in_one_line(invoke: Invoke, args: list[str], needle: str) -> None:
    result = invoke(*args)
    assert result.exit_code == ExitCode.USAGE
    line = one_line(result.stderr)
    assert needle in line
    assert "--help" in line


# -- unexpected failures ---------------------------------------------------------


def _explode(exc: BaseException):
    def boom(*args: object, **kwargs: object) -> None:
        raise exc

    return boom


def test_internal_error_is_one_line_without_traceback(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pmemctl.ops.read.topology_view", _explode(ValueError("boom\nsecond line")))
    result = invoke("topology")
    assert result.exit_code == ExitCode.FAILED
    assert one_line(result.stderr) == "pmemctl: internal error: ValueError: boom, rerun with --traceback"


@pytest.mark.parametrize("how", ["option", "env"])
def test_traceback_on_request(invoke: Invoke, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    monkeypatch.setattr("pmemctl.ops.read.topology_view", _explode(ValueError("boom")))
    if how == "option":
        result = invoke("--traceback", "topology")
    else:
        result = invoke("topology", env={"PMEMCTL_TRACEBACK": "1"})
    assert result.exit_code == ExitCode.FAILED
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("pmemctl: internal error: ValueError: boom")


def test_pmemctl_error_keeps_its_exit_code(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pmemctl.ops.read.topology_view", _explode(Refused("no way", hint="try later")))
    result = invoke("--traceback", "topology")  # a PmemctlError gets a traceback only on request
    assert result.exit_code == ExitCode.REFUSED
    assert result.stderr.rstrip().splitlines()[-1] == "pmemctl: no way; try later"
    result = invoke("topology")
    assert one_line(result.stderr) == "pmemctl: no way; try later"


def test_keyboard_interrupt_exits_130(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pmemctl.ops.read.topology_view", _explode(KeyboardInterrupt()))
    result = invoke("topology")
    assert result.exit_code == EXIT_INTERRUPTED == 130
    assert result.stderr.strip() == "pmemctl: interrupted"


def test_quiet_still_reports_errors(invoke: Invoke, tmp_path: Path) -> None:
    result = invoke("--quiet", "--sysroot", tmp_path, "list")
    assert result.exit_code == ExitCode.NOT_FOUND
    one_line(result.stderr)


def test_version(invoke: Invoke) -> None:
    from pmemctl import __version__

    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"pmemctl {__version__}\n"


def test_help_lists_every_command(invoke: Invoke) -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for name in ("list", "blocks", "topology", "sim"):
        assert f"  {name}" in result.stdout
    assert "--traceback" not in result.stdout  # hidden


# -- --json failures: one error document on stdout -----------------------------


@pytest.mark.parametrize(
    "args,command,status,code",
    [
        (["blocks", "--json", "--bogus"], "blocks", "usage", ExitCode.USAGE),
        (["offline", "--blocks", "9999", "--json"], "offline", "not-found", ExitCode.NOT_FOUND),
        (["namespace", "create", "--region", "region0", "--size", "1G", "--mode", "devdax",
          "--backend", "sysfs", "--yes", "--json"], "namespace create", "refused", ExitCode.REFUSED),
        (["list", "--json", "--region", "region9"], "list", "not-found", ExitCode.NOT_FOUND),
    ],
)
def test_json_failure_prints_an_error_document(invoke: Invoke, fresh_tree, args: list[str], command: str,
                                               status: str, code: int) -> None:
    tree = fresh_tree("qemu-nvdimm")  # label-less: a namespace cannot be carved out of it
    result = invoke("--sysroot", tree, *args)
    assert result.exit_code == code
    doc = json.loads(result.stdout)
    assert list(doc) == ["schema_version", "command", "sysroot", "error"]
    assert doc["command"] == command and doc["sysroot"] == str(tree)
    assert list(doc["error"]) == ["message", "status", "exit_code"]
    assert doc["error"]["status"] == status and doc["error"]["exit_code"] == code
    assert "pmemctl: " + doc["error"]["message"] == one_line(result.stderr)


def test_failure_without_json_prints_nothing_on_stdout(invoke: Invoke, fresh_tree) -> None:
    result = invoke("--sysroot", fresh_tree("qemu-nvdimm"), "offline", "--blocks", "9999")
    assert result.exit_code == ExitCode.NOT_FOUND and result.stdout == ""


@pytest.mark.parametrize(
    "argv,expected",
    [
        (["--sysroot", "/x", "namespace", "create", "--json"], "namespace create"),
        (["--sysroot=/x", "-q", "blocks", "--json", "-a"], "blocks"),
        (["sim", "list", "--json"], "sim list"),
        (["blocks", "--all"], None),                  # no --json: no document
        (["nosuch", "--json"], None),                 # unknown command: no path to name
        (["namespace", "--json"], "namespace"),
    ],
)
def test_command_path_of_a_json_failure(argv: list[str], expected) -> None:
    from pmemctl.cli.main import _json_command, cli

    assert _json_command(cli, argv) == expected
