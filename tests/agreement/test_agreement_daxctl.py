"""The real ``daxctl list -RDMi`` sees the devices, modes, sizes, target
nodes and memory blocks each scenario describes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from realtools import parse_json_output, run_real_tool

from pmemctl.sim.machine import DaxDeviceSpec, MachineSpec
from pmemctl.sim.scenario import Scenario

pytestmark = pytest.mark.usefixtures("daxctl_ready")


def expected_device(m: MachineSpec, dev: DaxDeviceSpec, mappings: bool = True) -> dict[str, Any]:
    """A device object as util_daxctl_dev_to_json builds it (kernel-abi.md §2.2)."""
    obj: dict[str, Any] = {"chardev": dev.name, "size": dev.size, "target_node": dev.target_node,
                           "align": dev.align, "mode": dev.mode}
    if dev.driver == "kmem":
        blocks = m.blocks_of(dev.name)
        obj["online_memblocks"] = sum(1 for b in blocks if b.online)
        obj["total_memblocks"] = len(blocks)
        if all(b.online for b in blocks):
            # Omitted when any block is offline; false when zones are mixed.
            obj["movable"] = all(b.valid_zones == "Movable" for b in blocks)
    if dev.driver is None:
        obj["state"] = "disabled"
    if mappings:
        obj["mappings"] = [
            {"page_offset": mp.page_offset, "start": mp.start, "end": mp.end, "size": mp.end - mp.start + 1}
            for mp in dev.mappings
        ]
    return obj


def expected_regions(m: MachineSpec) -> list[dict[str, Any]]:
    out = []
    for region in sorted(m.dax_regions, key=lambda r: (r.id, r.kpath)):
        obj: dict[str, Any] = {"path": region.kpath[len("/sys/devices"):], "id": region.id, "size": region.size}
        if region.available_size:
            obj["available_size"] = region.available_size
        obj["align"] = region.align
        obj["devices"] = [expected_device(m, d) for d in m.dax_devices if d.region_kpath == region.kpath]
        out.append(obj)
    return out


def test_daxctl_list_agrees(built: tuple[Path, Scenario]) -> None:
    root, scenario = built
    proc = run_real_tool(root, ["daxctl", "list", "-RDMi"])
    assert proc.returncode == 0, proc.stderr
    regions = parse_json_output(proc.stdout)
    assert sorted(regions, key=lambda r: (r["id"], r["path"])) == expected_regions(scenario.machine)


def test_daxctl_default_list_agrees(built: tuple[Path, Scenario]) -> None:
    """``daxctl list`` (devices only, no mappings) matches too; empty output
    means no device."""
    root, scenario = built
    proc = run_real_tool(root, ["daxctl", "list"])
    assert proc.returncode == 0, proc.stderr
    m = scenario.machine
    want = [expected_device(m, d, mappings=False) for d in m.dax_devices if d.size]
    got = parse_json_output(proc.stdout)
    assert sorted(got, key=lambda d: d["chardev"]) == sorted(want, key=lambda d: d["chardev"])
