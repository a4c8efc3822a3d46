"""``pmemctl blocks``: lsmem-like ranges, checked against the scenario and lsmem."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from cli_scenarios import cases
from cli_support import Invoke, check_schema, machine, one_line, run_json

from pmemctl.errors import ExitCode

LSMEM_COLUMNS = {
    "range": "RANGE",
    "size": "SIZE",
    "state": "STATE",
    "zone": "ZONES",
    "removable": "REMOVABLE",
    "block": "BLOCK",
    "node": "NODE",
}


def expected_zones(valid_zones: str) -> list[str]:
    """valid_zones as the JSON spells it: lower case (schema version 2)."""
    return [] if valid_zones.strip() in ("", "none") else valid_zones.lower().split()


@cases
def test_json_matches_the_scenario(
    invoke: Invoke, scenario_tree: Callable[..., Path], case: tuple[str, dict[str, Any]]
) -> None:
    tree = scenario_tree(case[0], **case[1])
    m = machine(tree)
    doc = run_json(invoke, "--sysroot", tree, "blocks", "--all", "--json")
    seen = check_schema(doc)
    assert seen["block_range"] == len(m.blocks)
    assert doc["command"] == "blocks" and doc["sysroot"] == str(tree)
    assert doc["block_size"] == m.block_size
    assert doc["per_block"] is True
    bs = m.block_size
    for got, blk in zip(doc["ranges"], sorted(m.blocks, key=lambda b: b.index), strict=True):
        assert got["first_block"] == got["last_block"] == blk.index
        assert got["blocks"] == 1
        assert (got["start"], got["end"], got["size"]) == (blk.index * bs, (blk.index + 1) * bs - 1, bs)
        assert got["state"] == ("online" if blk.online else "offline")
        assert got["zones"] == expected_zones(blk.valid_zones)
        assert got["node"] == blk.node
        assert got["device"] == blk.owner
        assert got["removable"] is True
    online = sum(b.online for b in m.blocks)
    assert doc["totals"] == {
        "blocks_online": online,
        "blocks_offline": len(m.blocks) - online,
        "size_online": online * bs,
        "size_offline": (len(m.blocks) - online) * bs,
    }


@cases
def test_merged_ranges_cover_every_block_once(
    invoke: Invoke, scenario_tree: Callable[..., Path], case: tuple[str, dict[str, Any]]
) -> None:
    tree = scenario_tree(case[0], **case[1])
    m = machine(tree)
    doc = run_json(invoke, "--sysroot", tree, "blocks", "--json")
    check_schema(doc)
    covered = [i for r in doc["ranges"] for i in range(r["first_block"], r["last_block"] + 1)]
    assert covered == sorted(b.index for b in m.blocks)
    by_index = {b.index: b for b in m.blocks}
    for r in doc["ranges"]:
        members = [by_index[i] for i in range(r["first_block"], r["last_block"] + 1)]
        assert {b.owner for b in members} == {r["device"]}
        assert {b.node for b in members} == {r["node"]}
        assert {b.online for b in members} == {r["state"] == "online"}
        assert r["size"] == r["blocks"] * m.block_size == r["end"] - r["start"] + 1


@pytest.mark.agreement
@pytest.mark.skipif(shutil.which("lsmem") is None, reason="lsmem is not installed")
@cases
@pytest.mark.parametrize(
    "columns", ["range,size,state,zone,removable,block,node", "range,size,state,block", "size,node,zone"]
)
@pytest.mark.parametrize("per_block", [False, True], ids=["merged", "all"])
def test_plain_output_is_lsmem_byte_for_byte(
    invoke: Invoke, scenario_tree: Callable[..., Path], case: tuple[str, dict[str, Any]], columns: str, per_block: bool
) -> None:
    tree = scenario_tree(case[0], **case[1])
    flags = ["--all"] if per_block else []
    lsmem_cols = ",".join(LSMEM_COLUMNS[c] for c in columns.split(","))
    proc = subprocess.run(["lsmem", "--sysroot", str(tree), *flags, "-o", lsmem_cols], capture_output=True, text=True)
    if proc.returncode != 0 and "sysroot" in proc.stderr:
        pytest.skip("this lsmem has no --sysroot")
    assert proc.returncode == 0, proc.stderr
    result = invoke("--sysroot", tree, "blocks", *flags, "-o", columns)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == proc.stdout


def test_plain_golden_qemu_system_ram(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    tree = scenario_tree("qemu-nvdimm", stage="system-ram")
    result = invoke("--sysroot", tree, "blocks")
    assert result.exit_code == 0
    assert result.stdout == (
        "RANGE                                  SIZE  STATE   ZONES REMOVABLE BLOCK NODE DEVICE\n"
        "0x0000000000000000-0x0000000007ffffff  128M online    None       yes     0    0 -\n"
        "0x0000000008000000-0x000000007fffffff  1.9G online   DMA32       yes  1-15    0 -\n"
        "0x0000000108000000-0x00000001f7ffffff  3.8G online Movable       yes 33-62    1 dax0.0\n"
        "\n"
        "Memory block size:       128M\n"
        "Total online memory:     5.8G\n"
        "Total offline memory:      0B\n"
    )
    assert "\x1b[" not in result.stdout


def test_offline_blocks_and_filters(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    tree = scenario_tree("cxl-hmem", kind="hmem", mode="system-ram")
    m = machine(tree)
    dev = m.dax_devices[0]
    offline = run_json(invoke, "--sysroot", tree, "blocks", "--state", "offline", "--json")
    assert offline["filters"] == {"device": None, "node": None, "state": "offline"}
    assert {r["state"] for r in offline["ranges"]} == {"offline"}
    assert offline["totals"]["blocks_offline"] == sum(not b.online for b in m.blocks) > 0
    assert offline["totals"]["size_online"] == 0

    mine = run_json(invoke, "--sysroot", tree, "blocks", "--device", dev.name, "--json")
    assert {r["device"] for r in mine["ranges"]} == {dev.name}
    assert sum(r["blocks"] for r in mine["ranges"]) == len(m.blocks_of(dev.name))

    node = dev.target_node
    on_node = run_json(invoke, "--sysroot", tree, "blocks", "--node", str(node), "--json")
    assert {r["node"] for r in on_node["ranges"]} == {node}
    assert sum(r["blocks"] for r in on_node["ranges"]) == sum(b.node == node for b in m.blocks)

    # Offline blocks show their candidate zones joined with "/", and no REMOVABLE (as lsmem).
    text = invoke("--sysroot", tree, "blocks", "--state", "offline").stdout
    first = text.splitlines()[1].split()
    assert first[2] == "offline" and "/" in first[3] and first[4].isdigit() is False


def test_fewer_columns_merge_more_and_leave_the_rest_null(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    tree = scenario_tree("optane-2s")
    full = run_json(invoke, "--sysroot", tree, "blocks", "--json")
    short = run_json(invoke, "--sysroot", tree, "blocks", "-o", "range,size,state", "--json")
    check_schema(short)
    assert short["columns"] == ["range", "size", "state"]
    assert len(short["ranges"]) < len(full["ranges"])
    assert all(
        r["zones"] is None and r["node"] is None and r["device"] is None and r["removable"] is None
        for r in short["ranges"]
    )
    assert short["totals"] == full["totals"]
    header = invoke("--sysroot", tree, "blocks", "-o", "block,device").stdout.splitlines()[0]
    assert header.split() == ["BLOCK", "DEVICE"]


def test_quiet_prints_nothing_but_json(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    tree = scenario_tree("qemu-nvdimm", stage="system-ram")
    assert invoke("-q", "--sysroot", tree, "blocks").stdout == ""
    assert run_json(invoke, "-q", "--sysroot", tree, "blocks", "--json")["command"] == "blocks"


def test_color_forces_rich_output(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    tree = scenario_tree("qemu-nvdimm", stage="system-ram")
    result = invoke("--color", "--sysroot", tree, "blocks")
    assert result.exit_code == 0
    assert "\x1b[" in result.stdout and "─" in result.stdout
    assert "dax0.0" in result.stdout
    plain = invoke("--no-color", "--sysroot", tree, "blocks").stdout
    assert "\x1b[" not in plain and "─" not in plain


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,code,needle",
    [
        (["-o", "range,bogus"], ExitCode.USAGE, "unknown column 'bogus'"),
        (["-o", ","], ExitCode.USAGE, "no columns given"),
        (["--state", "sleeping"], ExitCode.USAGE, "unknown state 'sleeping'"),
        (["--device", "dax9.9"], ExitCode.NOT_FOUND, "no dax device named 'dax9.9'; known: dax0.0"),
        (["--node", "7"], ExitCode.NOT_FOUND, "no node named '7'"),
    ],
)
def test_bad_input(invoke: Invoke, scenario_tree: Callable[..., Path], args: list[str], code: int, needle: str) -> None:
    tree = scenario_tree("qemu-nvdimm", stage="system-ram")
    result = invoke("--sysroot", tree, "blocks", *args)
    assert result.exit_code == code
    assert needle in one_line(result.stderr)
    assert result.stdout == ""


@pytest.mark.parametrize(
    "attribute,content,expected,release",
    [
        ("memory40/state", "banana", "online, offline or going-offline", None),
        ("memory40/valid_zones", "Bogus", "zone names", None),
        # removable: sampled from the first block on a 5.7+ kernel (every block
        # shows the same there), read block by block on an older one
        ("memory0/removable", "maybe", "0 or 1", None),
        ("memory40/removable", "maybe", "0 or 1", "5.4.0-150-generic"),
        ("block_size_bytes", "zz", "a hex number", None),
    ],
)
def test_garbage_attribute(
    invoke: Invoke, fresh_tree: Callable[..., Path], attribute: str, content: str, expected: str,
    release: Optional[str],
) -> None:
    tree = fresh_tree("qemu-nvdimm", stage="system-ram")
    if release is not None:
        (tree / "proc/sys/kernel").mkdir(parents=True, exist_ok=True)
        (tree / "proc/sys/kernel/osrelease").write_text(release + "\n")
    path = tree / "sys/devices/system/memory" / attribute
    path.chmod(0o644)
    path.write_text(content + "\n")
    result = invoke("--sysroot", tree, "blocks", "--json")
    assert result.exit_code == ExitCode.FAILED
    line = one_line(result.stderr)
    assert f"/sys/devices/system/memory/{attribute}: unexpected content {content!r}" in line
    assert expected in line
