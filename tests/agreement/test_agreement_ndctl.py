"""The real ``ndctl list -BDRNi -v`` sees the buses, DIMMs, regions and
namespaces (modes, sizes, uuids, block and char devices, nodes) each
scenario describes; scenarios without NVDIMMs list nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from realtools import parse_json_output, run_real_tool
from test_agreement_daxctl import expected_device

from pmemctl.sim.machine import MachineSpec, NamespaceSpec, RegionSpec
from pmemctl.sim.scenario import Scenario

pytestmark = pytest.mark.usefixtures("ndctl_ready")

NULL_UUID = "00000000-0000-0000-0000-000000000000"


def expected_namespace(m: MachineSpec, region: RegionSpec, ns: NamespaceSpec) -> dict[str, Any]:
    """The fields of util_namespace_to_json we describe (kernel-abi.md §3.1)."""
    obj: dict[str, Any] = {"dev": ns.name, "mode": ns.mode}
    if ns.mode in ("fsdax", "devdax"):
        obj["map"] = "dev" if ns.holder_map == "pmem" else "mem"
    # devdax/fsdax/sector show the usable size of the claiming device.
    obj["size"] = ns.usable_size if ns.holder else ns.size
    if ns.holder:
        obj["uuid"] = ns.holder_uuid
        if ns.uuid:
            obj["raw_uuid"] = ns.uuid
    elif ns.nstype == 5:
        obj["uuid"] = ns.uuid or NULL_UUID
    if ns.mode == "devdax":
        dev = m.dax_device(ns.dax_device or "")
        assert dev is not None
        obj["daxregion"] = {"id": region.id, "size": dev.size, "align": dev.align,
                            "devices": [expected_device(m, dev, mappings=False)]}
    if ns.mode == "sector":
        obj["sector_size"] = ns.btt_sector_size
    elif ns.mode != "devdax":
        obj["sector_size"] = ns.sector_size or 512
    if ns.holder_align and ns.mode in ("fsdax", "devdax"):
        obj["align"] = ns.holder_align
    if ns.blockdev:
        obj["blockdev"] = ns.blockdev
    if ns.seed or not (ns.enabled or ns.holder_enabled):
        obj["state"] = "disabled"
    if ns.alt_name:
        obj["name"] = ns.alt_name
    obj["numa_node"] = ns.numa_node
    obj["target_node"] = ns.target_node
    return obj


def expected_region(m: MachineSpec, region: RegionSpec) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "dev": region.name,
        "size": region.size,
        "align": region.align,
        # libndctl reports no available space on a label-less (io) region,
        # whatever the kernel's available_size says (nothing can be allocated)
        "available_size": (region.available_size or 0) if region.labeled else 0,
        "max_available_extent": region.max_available_extent if region.labeled else 0,
        "type": "pmem",
        "numa_node": region.numa_node,
        "target_node": region.target_node,
    }
    if region.labeled and region.set_cookie is not None:
        obj["iset_id"] = region.set_cookie
    obj["mappings"] = [
        {"dimm": mp.dimm, "offset": mp.offset, "length": mp.length, "position": mp.position}
        for mp in region.mappings
    ]
    obj["persistence_domain"] = region.persistence_domain or "unknown"
    obj["namespaces"] = [expected_namespace(m, region, ns) for ns in region.namespaces]
    return obj


def expected_buses(m: MachineSpec) -> list[dict[str, Any]]:
    out = []
    for bus in m.buses:
        obj: dict[str, Any] = {"provider": bus.provider, "dev": bus.name}
        if bus.nfit and "ars_cap" in bus.commands:
            obj["scrub_state"] = "idle"
        obj["dimms"] = [
            # a DIMM without security ops has no security attribute: ndctl shows none
            {"dev": d.name, "id": d.nfit_id, "handle": d.handle, "phys_id": d.phys_id}
            | ({"security": d.security} if d.security != "none" else {})
            for d in bus.dimms
        ]
        obj["regions"] = [expected_region(m, r) for r in bus.regions]
        out.append(obj)
    return out


def canonical(buses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ndctl lists children in readdir order: sort them for comparison."""
    out = []
    for bus in buses:
        bus = dict(bus)
        bus["dimms"] = sorted(bus.get("dimms", []), key=lambda d: d["dev"])
        regions = []
        for region in sorted(bus.get("regions", []), key=lambda r: r["dev"]):
            region = dict(region)
            region["mappings"] = sorted(region.get("mappings", []), key=lambda mp: mp["position"])
            region["namespaces"] = sorted(region.get("namespaces", []), key=lambda n: n["dev"])
            regions.append(region)
        bus["regions"] = regions
        out.append(bus)
    return sorted(out, key=lambda b: b["dev"])


def test_ndctl_list_agrees(built: tuple[Path, Scenario]) -> None:
    root, scenario = built
    proc = run_real_tool(root, ["ndctl", "list", "-BDRNi", "-v"])
    assert proc.returncode == 0, proc.stderr
    assert canonical(parse_json_output(proc.stdout)) == canonical(expected_buses(scenario.machine))


def test_ndctl_namespace_modes_and_sizes(built: tuple[Path, Scenario]) -> None:
    """The plain ``ndctl list -N`` (active namespaces only) agrees on modes and sizes."""
    root, scenario = built
    proc = run_real_tool(root, ["ndctl", "list", "-N"])
    assert proc.returncode == 0, proc.stderr
    got = {n["dev"]: (n["mode"], n["size"]) for n in parse_json_output(proc.stdout)}
    want = {
        ns.name: (ns.mode, ns.usable_size if ns.holder else ns.size)
        for ns in scenario.machine.namespaces()
        if not ns.seed and (ns.enabled or ns.holder_enabled)
    }
    assert got == want
