"""Host oracle: ``pmemctl --sysroot / blocks`` against lsmem on this machine.

Read-only.  Skips only when lsmem or /sys/devices/system/memory is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.host,
    pytest.mark.skipif(shutil.which("lsmem") is None, reason="lsmem is not installed"),
    pytest.mark.skipif(
        not os.path.isdir("/sys/devices/system/memory"), reason="no /sys/devices/system/memory (no memory hotplug)"
    ),
]

REPO = Path(__file__).resolve().parents[2]
# lsmem merges by state, removable, node and zones; ask pmemctl for the same columns.
PMEMCTL_COLUMNS = "range,size,state,removable,block,node,zone"
LSMEM_COLUMNS = "RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES"


def pmemctl(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMEMCTL_")}
    env.update(PYTHONPATH=str(REPO), NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "pmemctl", "--sysroot", "/", *args], capture_output=True, text=True, env=env
    )


def lsmem(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["lsmem", *args], capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})


def _lsmem_range(r: dict[str, Any]) -> dict[str, Any]:
    start, end = (int(x, 16) for x in r["range"].split("-"))
    first, _, last = str(r["block"]).partition("-")
    zones = r.get("zones")
    return {
        "start": start,
        "end": end,
        "size": int(r["size"]),
        "state": r["state"],
        "first_block": int(first),
        "last_block": int(last or first),
        "node": None if r.get("node") in (None, "") else int(r["node"]),
        # the JSON spells zones in lower case, as --zone takes them (schema version 2)
        "zones": None if zones is None else ([] if zones == "None" else zones.lower().split("/")),
        # lsmem reports removable for online blocks only
        "removable": r["removable"] if r["state"] == "online" else None,
    }


def test_blocks_json_agrees_with_lsmem() -> None:
    theirs = lsmem("-J", "-b", "-o", LSMEM_COLUMNS)
    assert theirs.returncode == 0, theirs.stderr
    ours = pmemctl("blocks", "-o", PMEMCTL_COLUMNS, "--json")
    assert ours.returncode == 0, ours.stderr
    doc = json.loads(ours.stdout)
    expected = [_lsmem_range(r) for r in json.loads(theirs.stdout)["memory"]]
    got = [
        {
            "start": r["start"],
            "end": r["end"],
            "size": r["size"],
            "state": r["state"],
            "first_block": r["first_block"],
            "last_block": r["last_block"],
            "node": r["node"],
            "zones": r["zones"],
            "removable": r["removable"] if r["state"] == "online" else None,
        }
        for r in doc["ranges"]
    ]
    assert got == expected
    with open("/sys/devices/system/memory/block_size_bytes") as fh:
        assert doc["block_size"] == int(fh.read(), 16)


def test_plain_output_is_lsmem_byte_for_byte() -> None:
    theirs = lsmem("-o", "RANGE,SIZE,STATE,ZONES,REMOVABLE,BLOCK,NODE")
    assert theirs.returncode == 0, theirs.stderr
    ours = pmemctl("blocks", "-o", "range,size,state,zone,removable,block,node")
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
