"""/proc/zoneinfo of the simulated kernel: written at build and kept in step
with every block that changes state, in the kernel's layout (mm/vmstat.c
zoneinfo_show), so that a reader gets from it what a walk of the blocks gives."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pmemctl.model.discover import discover
from pmemctl.ops import read
from pmemctl.sim.build import materialise
from pmemctl.sim.kernel import SimulatedKernel
from pmemctl.sim.scenario import load_scenario
from pmemctl.sysfs.door import SysfsRoot

DMA_END, DMA32_END = 16 << 20, 4 << 30
ZONES = ("DMA", "DMA32", "Normal", "Movable", "Device")


def parse(text: str) -> dict[tuple[int, str], dict[str, int]]:
    """(node, zone) -> spanned/present/start_pfn of each zone section."""
    out: dict[tuple[int, str], dict[str, int]] = {}
    where: tuple[int, str] = (-1, "")
    for line in text.splitlines():
        m = re.match(r"^Node (\d+), zone +(\S+)$", line)
        if m:
            where = (int(m.group(1)), m.group(2))
            out[where] = {}
            continue
        m = re.match(r"^ +(spanned|present|start_pfn:) +(\d+)$", line)
        if m:
            out[where][m.group(1).rstrip(":")] = int(m.group(2))
    return out


def expected_present(root: Path) -> dict[tuple[int, str], int]:
    """Bytes present per (node, zone), from the tree's blocks: each online
    block in its zone (valid_zones), a block spanning zones split by the
    zones' addresses; boot blocks count their DRAM only (holes)."""
    door = SysfsRoot(str(root))
    topo = discover(door)
    bs = topo.policy.block_size or 0
    machine = SimulatedKernel(root).spec
    dram = {n.id: n.dram for n in machine.nodes}
    out: dict[tuple[int, str], int] = {}
    limits = {"DMA": (0, DMA_END), "DMA32": (DMA_END, DMA32_END), "Normal": (DMA32_END, 1 << 64)}
    for b in topo.blocks:
        if not b.online or b.node is None:
            continue
        lo, hi = b.index * bs, (b.index + 1) * bs
        pieces = [(max(lo, a), min(hi, z)) for a, z in dram.get(b.node, ()) if min(hi, z) > max(lo, a)] or [(lo, hi)]
        for zone, (zlo, zhi) in limits.items() if not b.zones else ((b.zones[0], (0, 1 << 64)),):
            n = sum(max(0, min(p[1], zhi) - max(p[0], zlo)) for p in pieces)
            if n:
                out[(b.node, zone)] = out.get((b.node, zone), 0) + n
    return out


def check_in_step(root: Path) -> None:
    page = os.sysconf("SC_PAGE_SIZE")
    got = parse((root / "proc" / "zoneinfo").read_text())
    want = expected_present(root)
    nodes = sorted({n for n, _ in got})
    # every zone of every online node, in the kernel's order
    assert list(got) == [(n, z) for n in nodes for z in ZONES]
    assert {k: v["present"] for k, v in got.items() if v["present"]} == {k: n // page for k, n in want.items()}
    for fields in got.values():
        if fields["present"]:
            assert fields["spanned"] >= fields["present"]
            assert "start_pfn" in fields
        else:
            assert "start_pfn" not in fields
    # discovery that counts boot memory from zoneinfo sees what a full walk sees
    full = discover(SysfsRoot(str(root)))
    assert list(read.topology_view(SysfsRoot(str(root))).nodes) == list(full.nodes)


@pytest.mark.parametrize("name", ["optane-2s", "qemu-nvdimm", "big"])
def test_zoneinfo_at_build_and_after_block_changes(tmp_path: Path, name: str) -> None:
    settings = {"blocks": "2048"} if name == "big" else {"stage": "system-ram"} if name == "qemu-nvdimm" else {}
    root = materialise(load_scenario(name, settings), tmp_path / "t")
    check_in_step(root)
    k = SimulatedKernel(root)
    topo = discover(k)
    owned = [b for b in topo.blocks if b.device is not None]
    offline = [b.index for b in owned if not b.online][:5]
    online = [b.index for b in owned if b.online][-5:]
    for i in online:
        k.write(f"/sys/devices/system/memory/memory{i}/state", "offline")
    for i in offline:
        k.write(f"/sys/devices/system/memory/memory{i}/state", "online_movable")
    assert online or offline
    check_in_step(root)


def test_zoneinfo_follows_kmem_hot_add_and_remove(tmp_path: Path) -> None:
    root = materialise(load_scenario("qemu-nvdimm", {"stage": "devdax"}), tmp_path / "t")
    k = SimulatedKernel(root)
    dev = next(d for d in discover(k).dax_devices)
    k.write("/sys/bus/dax/drivers/device_dax/unbind", dev.name)
    k.write("/sys/bus/dax/drivers/kmem/new_id", dev.name)
    check_in_step(root)
    for b in discover(k).blocks:
        if b.device == dev.name and not b.online:
            k.write(f"/sys/devices/system/memory/memory{b.index}/state", "online_movable")
    check_in_step(root)


def test_zone_span_shrinks_from_its_edges_only(tmp_path: Path) -> None:
    """Offlining a zone's top block shrinks its span to the highest block
    still in it (past any offline hole); a block from the middle leaves the
    span as it was (mm/memory_hotplug.c shrink_zone_span)."""
    root = materialise(load_scenario("qemu-nvdimm", {"stage": "system-ram"}), tmp_path / "t")
    k = SimulatedKernel(root)
    bs = k.block_size
    movable = sorted(b.index for b in discover(k).blocks if b.online and b.zones == ("Movable",))
    assert len(movable) >= 6
    nodes = k.memory.nodes()  # loads the simulator's block cache
    nb = nodes[k.memory.node_of[movable[0]]]

    def offline(i: int) -> None:
        k.write(f"/sys/devices/system/memory/memory{i}/state", "offline")

    offline(movable[-3])  # a hole below the top: the span stays
    assert nb.spans["Movable"] == (movable[0] * bs, (movable[-1] + 1) * bs)
    offline(movable[-1])
    assert nb.spans["Movable"] == (movable[0] * bs, (movable[-2] + 1) * bs)
    offline(movable[-2])  # the top again: the span skips the hole
    assert nb.spans["Movable"] == (movable[0] * bs, (movable[-4] + 1) * bs)
    offline(movable[0])  # the bottom edge
    assert nb.spans["Movable"] == (movable[1] * bs, (movable[-4] + 1) * bs)
    for i in movable[1:-3]:
        offline(i)
    assert "Movable" not in nb.spans
    check_in_step(root)
