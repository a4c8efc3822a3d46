"""``pmemctl sim list`` and ``pmemctl sim create``."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_scenarios import EXPECTED
from cli_support import Invoke, check_schema, machine, one_line, run_json

from pmemctl.errors import ExitCode

pytest.importorskip("pmemctl.sim.build", reason="pmemctl.sim.build (the simulator) is not there yet")


def test_list_json(invoke: Invoke) -> None:
    doc = run_json(invoke, "sim", "list", "--json")
    seen = check_schema(doc)
    assert doc["command"] == "sim list"
    names = [s["name"] for s in doc["scenarios"]]
    assert EXPECTED <= set(names)
    assert seen["scenario_param"] >= 3
    qemu = next(s for s in doc["scenarios"] if s["name"] == "qemu-nvdimm")
    assert qemu["params"] == [
        {
            "name": "stage",
            "help": qemu["params"][0]["help"],
            "default": "raw",
            "choices": ["raw", "labelled", "devdax", "system-ram"],
        }
    ]
    big = next(s for s in doc["scenarios"] if s["name"] == "big")
    assert [p["name"] for p in big["params"]] == ["blocks"] and big["params"][0]["choices"] == []


def test_list_plain(invoke: Invoke) -> None:
    result = invoke("sim", "list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "PARAMETERS", "SUMMARY"]
    assert {line.split()[0] for line in lines[1:] if not line.startswith(" ")} >= EXPECTED
    assert any("--set stage=raw|labelled|devdax|system-ram" in line for line in lines)


def test_create_then_read(invoke: Invoke, tmp_path: Path) -> None:
    dest = tmp_path / "box"
    result = invoke("sim", "create", dest, "--scenario", "qemu-nvdimm", "--set", "stage=system-ram")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (f"created scenario qemu-nvdimm (kernel 6.12) in {dest}\n"
                             f"try: pmemctl --sysroot {dest} list\n")
    assert machine(dest).name == "qemu-nvdimm"
    doc = run_json(invoke, "--sysroot", dest, "list", "--json")
    assert doc["buses"][0]["regions"][0]["namespaces"][0]["dax_device"]["driver"] == "kmem"


def test_create_into_an_existing_empty_directory_quietly(invoke: Invoke, tmp_path: Path) -> None:
    result = invoke("-q", "sim", "create", tmp_path, "-s", "cxl-hmem")
    assert result.exit_code == 0 and result.stdout == ""
    assert (tmp_path / "sys" / "bus" / "dax").is_dir()


def test_refuses_a_non_empty_directory(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me\n")
    result = invoke("sim", "create", tmp_path, "--scenario", "optane-2s")
    assert result.exit_code == ExitCode.REFUSED
    assert f"{tmp_path} is not empty" in one_line(result.stderr)
    result = invoke("sim", "create", tmp_path, "--scenario", "optane-2s", "--force")
    assert result.exit_code == ExitCode.REFUSED
    assert "holds no simulated tree" in one_line(result.stderr)
    assert (tmp_path / "precious.txt").read_text() == "keep me\n"


def test_force_replaces_an_earlier_tree(invoke: Invoke, tmp_path: Path) -> None:
    dest = tmp_path / "box"
    assert invoke("sim", "create", dest, "-s", "qemu-nvdimm").exit_code == 0
    assert invoke("sim", "create", dest, "-s", "qemu-nvdimm", "--set", "stage=devdax").exit_code == ExitCode.REFUSED
    result = invoke("sim", "create", dest, "-s", "qemu-nvdimm", "--set", "stage=devdax", "--force")
    assert result.exit_code == 0, result.stderr
    assert machine(dest).dax_devices[0].driver == "device_dax"


def test_refuses_a_file(invoke: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    result = invoke("sim", "create", target, "-s", "qemu-nvdimm")
    assert result.exit_code == ExitCode.USAGE
    assert f"{target}' is a file" in one_line(result.stderr)


@pytest.mark.parametrize(
    "args,code,needle",
    [
        (["-s", "nope"], ExitCode.NOT_FOUND, "unknown scenario 'nope'; known scenarios: big, cxl-hmem"),
        (["-s", "qemu-nvdimm", "--set", "stage"], ExitCode.USAGE, "--set 'stage' is not key=value"),
        (
            ["-s", "qemu-nvdimm", "--set", "colour=red"],
            ExitCode.USAGE,
            "scenario 'qemu-nvdimm' has no parameter 'colour'",
        ),
        (
            ["-s", "qemu-nvdimm", "--set", "stage=warp"],
            ExitCode.USAGE,
            "must be one of: raw, labelled, devdax, system-ram",
        ),
        (["-s", "big", "--set", "blocks=many"], ExitCode.USAGE, "is not an integer"),
    ],
)
def test_bad_input_leaves_nothing_behind(
    invoke: Invoke, tmp_path: Path, args: list[str], code: int, needle: str
) -> None:
    dest = tmp_path / "box"
    result = invoke("sim", "create", dest, *args)
    assert result.exit_code == code
    assert needle in one_line(result.stderr)
    assert not dest.exists()
