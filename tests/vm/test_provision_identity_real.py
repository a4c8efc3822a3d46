"""Identity across boots on a real kernel (issue 10): the dax device names of
the same namespaces change between two boots, and the layout, keyed by
namespace uuid and by physical range, still converts exactly the intended
device (see :mod:`provision_support`, IDENTITY_*).

Boot 1 labels one NVDIMM, makes namespaces A and B, destroys A, makes C (C
takes A's freed id, after B in the address space).  The layout selects C by
its namespace uuid (system-ram, all online, movable) and B by its physical
start (system-ram, two blocks in ZONE_NORMAL); apply converts them.  Boot 2,
same backing file: the kernel numbers the labelled namespaces in address
order, so the two dax device names have swapped; apply, with the same
layout, converts C and B again as asked.

One kernel only (6.1): which device an entry selects is pmemctl's matching
against what sysfs reports, not a kernel fact; the renaming itself is the nd
bus's numbering, and one measured renaming is what the test needs.
``PMEMCTL_VM_REUSE_IDENTITY=DIR`` re-checks the kept shares (DIR/first,
DIR/second of a run with --basetemp: BASETEMP/identity0) without booting.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from . import provision_support as ps
from .harness import GuestResult, run_guest

pytestmark = [pytest.mark.vm, pytest.mark.kernels("6.1")]


REUSE_ENV = "PMEMCTL_VM_REUSE_IDENTITY"


class Boot:
    """One boot's results: a :class:`GuestResult`, or a kept share re-read."""

    def __init__(self, result: GuestResult | None = None, kept: Path | None = None) -> None:
        self.r = result
        self.files: dict[str, bytes] = result.files if result else {
            p.relative_to(kept).as_posix(): p.read_bytes() for p in sorted(kept.rglob("*")) if p.is_file()}

    def file(self, name: str) -> str:
        key = f"out/{name}"
        if key not in self.files:
            raise AssertionError(f"guest left no {key}\n{self.r.describe() if self.r else '(kept share)'}")
        return self.files[key].decode("utf-8", "replace")

    def rc(self, name: str) -> int:
        return int(self.file(f"{name}.rc").strip())

    def json(self, name: str) -> Any:
        return json.loads(self.file(f"{name}.out"))

    def namespaces(self, name: str) -> dict[str, tuple[str, str, int]]:
        """What a NAME.txt of ``[ROLE] namespaceX.Y UUID RESOURCE`` lines says:
        ROLE (or the uuid when no role is given) -> (name, uuid, start)."""
        out = {}
        for line in self.file(name).splitlines():
            parts = line.split()
            if len(parts) == 3:
                parts = [parts[1], *parts]
            if len(parts) == 4 and parts[1].startswith("namespace"):
                out[parts[0]] = (parts[1], parts[2], int(parts[3], 0))
        return out


@pytest.fixture(scope="module")
def identity_boots(vm_ready: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Boot, Boot]:
    reuse = os.environ.get(REUSE_ENV)
    if reuse:
        return Boot(kept=Path(reuse) / "first"), Boot(kept=Path(reuse) / "second")
    work = tmp_path_factory.mktemp("identity")
    first = run_guest(ps.IDENTITY_FIRST_BOOT, nvdimms=list(ps.IDENTITY_DIMMS), backing_dir=work, timeout=300,
                      results_dir=work / "first")
    assert first.exit_code == 0, first.describe()
    layout = first.files["out/layout.toml"].decode()  # keyed by C's uuid and B's start
    second = run_guest(ps.identity_second_boot(layout), nvdimms=list(ps.IDENTITY_DIMMS), backing_dir=work,
                       timeout=300, results_dir=work / "second")
    for img in work.glob("*.img"):
        img.unlink()
    assert second.exit_code == 0, second.describe()
    return Boot(first), Boot(second)


def _dax_of(list_doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """namespace uuid -> its dax device object (list --json)."""
    return {ns["uuid"]: ns["dax_device"] for b in list_doc["buses"] for r in b["regions"]
            for ns in r["namespaces"] if ns["dax_device"] is not None}


def _items(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["name"]: i for i in doc["items"]}


def test_layout_follows_the_namespaces_when_their_names_change(identity_boots: tuple[Boot, Boot]) -> None:
    first, second = identity_boots
    made = first.namespaces("boot1-namespaces.txt")
    found = second.namespaces("boot2-namespaces.txt")
    (b_ns1, b_uuid, b_start), (c_ns1, c_uuid, c_start) = made["B"], made["C"]
    # the same two namespaces (uuid, physical start) at boot 2, under other names
    assert {u: start for _, u, start in found.values()} == {b_uuid: b_start, c_uuid: c_start}, found
    b_ns2, c_ns2 = found[b_uuid][0], found[c_uuid][0]
    assert (b_ns2, c_ns2) != (b_ns1, c_ns1), "the namespace names did not change between the boots"

    # boot 1: both converted under their first dax names
    assert first.rc("apply1") == 0, first.file("apply1.err")
    items1 = _items(first.json("apply1"))
    assert {n: i["status"] for n, i in items1.items()} == {"by-uuid": "changed", "by-range": "changed"}
    [c_dax1], [b_dax1] = items1["by-uuid"]["matched"], items1["by-range"]["matched"]

    # boot 2: the same layout selects the same devices under their new names
    assert second.rc("apply2") == 0, second.file("apply2.err")
    items2 = _items(second.json("apply2"))
    assert {n: i["status"] for n, i in items2.items()} == {"by-uuid": "changed", "by-range": "changed"}
    [c_dax2], [b_dax2] = items2["by-uuid"]["matched"], items2["by-range"]["matched"]
    assert (c_dax1, b_dax1) != (c_dax2, b_dax2), "the dax device names did not change between the boots"
    dax = _dax_of(second.json("list2"))
    assert (dax[c_uuid]["name"], dax[b_uuid]["name"]) == (c_dax2, b_dax2)
    assert dax[c_uuid]["namespace"] == c_ns2 and dax[b_uuid]["namespace"] == b_ns2
    # ... converted as asked: C all online (movable), B two blocks (normal)
    c, b = dax[c_uuid], dax[b_uuid]
    assert c["mode"] == "system-ram" and c["blocks_online"] == c["blocks_total"] > 0, c
    assert b["mode"] == "system-ram" and b["blocks_online"] == ps.IDENTITY_NORMAL_BLOCKS < b["blocks_total"], b
    assert items2["by-uuid"]["actual"][c_dax2]["normal_blocks"] == 0
    assert items2["by-range"]["actual"][b_dax2]["normal_blocks"] == ps.IDENTITY_NORMAL_BLOCKS
    # the names swapped: a layout keyed by boot 1's daxX.Y would have converted the wrong device
    assert (c_dax1, b_dax1) == (b_dax2, c_dax2), (c_dax1, b_dax1, c_dax2, b_dax2)
