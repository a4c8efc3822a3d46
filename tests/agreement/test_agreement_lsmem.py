"""The real lsmem (util-linux) reads every simulated tree the way the
scenario describes it: states, zones, nodes and ranges of the blocks."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pmemctl.sim.machine import BlockSpec, MachineSpec
from pmemctl.sim.scenario import Scenario

COLUMNS = "RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES"
_UNITS = {"B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "P": 2**50}

pytestmark = pytest.mark.skipif(shutil.which("lsmem") is None, reason="lsmem (util-linux) is not installed")


def lsmem(root: Path, *extra: str) -> list[dict[str, Any]]:
    proc = subprocess.run(
        ["lsmem", "--sysroot", str(root), "-J", "-o", COLUMNS, *extra],
        capture_output=True, text=True, check=True,
    )
    return json.loads(proc.stdout)["memory"]  # type: ignore[no-any-return]


def zones_text(block: BlockSpec) -> str:
    """lsmem shows valid_zones with '/' between zones and 'none' as 'None'."""
    return "/".join("None" if z == "none" else z for z in block.valid_zones.split())


def block_key(block: BlockSpec) -> tuple[str, bool, int, str]:
    # lsmem reads "removable" only for online blocks.
    return ("online" if block.online else "offline", block.online, block.node, zones_text(block))


def expected_rows(m: MachineSpec, merge: bool) -> list[dict[str, Any]]:
    groups: list[list[BlockSpec]] = []
    for block in m.blocks:
        last = groups[-1][-1] if groups else None
        if merge and last is not None and last.index + 1 == block.index and block_key(last) == block_key(block):
            groups[-1].append(block)
        else:
            groups.append([block])
    rows = []
    for group in groups:
        first, last = group[0], group[-1]
        state, removable, node, zones = block_key(first)
        rows.append(
            {
                "range": f"0x{first.index * m.block_size:016x}-0x{(last.index + 1) * m.block_size - 1:016x}",
                "size_bytes": len(group) * m.block_size,
                "state": state,
                "removable": removable,
                "block": str(first.index) if len(group) == 1 else f"{first.index}-{last.index}",
                "node": node,
                "zones": zones,
            }
        )
    return rows


def human_size(text: str) -> float:
    return float(text[:-1]) * _UNITS[text[-1]] if text[-1] in _UNITS else float(text)


def compare(rows: list[dict[str, Any]], expected: list[dict[str, Any]], exact_size: bool) -> None:
    assert len(rows) == len(expected)
    for row, want in zip(rows, expected, strict=True):
        size = want.pop("size_bytes")
        assert {k: row[k] for k in want} == want
        if exact_size:
            assert int(row["size"]) == size
        else:  # "1.9G": one decimal, rounded
            assert abs(human_size(row["size"]) - size) <= 0.05 * size, (row["size"], size)


@pytest.mark.parametrize("list_all", [False, True], ids=["merged", "all"])
def test_lsmem_agrees(built: tuple[Path, Scenario], list_all: bool) -> None:
    root, scenario = built
    extra = ("--all",) if list_all else ()
    compare(lsmem(root, *extra), expected_rows(scenario.machine, merge=not list_all), exact_size=False)


def test_lsmem_exact_sizes(built: tuple[Path, Scenario]) -> None:
    root, scenario = built
    compare(lsmem(root, "--bytes"), expected_rows(scenario.machine, merge=True), exact_size=True)
