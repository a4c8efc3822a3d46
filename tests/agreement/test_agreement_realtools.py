"""The harness itself: private namespace, device nodes, no leaks to the host."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from realtools import RealToolSetupError, parse_json_output, real_tool_skip_reason, run_real_tool

from pmemctl.sim.scenario import Scenario


@pytest.fixture(autouse=True)
def _namespaces_work() -> None:
    reason = real_tool_skip_reason("sh")
    if reason:
        pytest.skip(reason)


def test_tree_is_seen_as_sys_and_dev(built: tuple[Path, Scenario]) -> None:
    root, scenario = built
    proc = run_real_tool(root, ["sh", "-c", "cat /sys/devices/system/memory/block_size_bytes; ls /dev"])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split()
    assert lines[0] == f"{scenario.machine.block_size:x}"
    for dev in scenario.machine.dax_devices:
        assert dev.name in lines[1:]
    # The host's /dev and /sys are untouched.
    assert os.path.exists("/dev/null")
    assert not os.path.exists("/sys/.pmemctl-sim")


def test_char_nodes_carry_the_dev_numbers(built: tuple[Path, Scenario]) -> None:
    root, scenario = built
    for dev in scenario.machine.dax_devices[:1]:
        proc = run_real_tool(root, ["stat", "-c", "%F %t:%T", f"/dev/{dev.name}"])
        assert proc.stdout.strip() == f"character special file {dev.major:x}:{dev.minor:x}"


def test_exit_status_is_passed_through(tmp_path: Path) -> None:
    (tmp_path / "sys").mkdir()
    assert run_real_tool(tmp_path, ["sh", "-c", "exit 7"]).returncode == 7


def test_setup_failure_is_an_exception(tmp_path: Path) -> None:
    (tmp_path / "sys").mkdir()
    (tmp_path / ".pmemctl-sim").mkdir()
    (tmp_path / ".pmemctl-sim" / "devnodes.json").write_text(
        '[{"path": "/dev/a/b", "type": "c", "major": 1, "minor": 3},'
        ' {"path": "/dev/a/b", "type": "c", "major": 1, "minor": 3}]'
    )
    with pytest.raises(RealToolSetupError):
        run_real_tool(tmp_path, ["true"])
    with pytest.raises(FileNotFoundError):
        run_real_tool(tmp_path / "nowhere", ["true"])


def test_parse_json_output() -> None:
    assert parse_json_output("") == []
    assert parse_json_output('{"a":1}') == [{"a": 1}]
    assert parse_json_output('[{"path":"\\/x"}]') == [{"path": "/x"}]
