"""Contract of every materialised tree: what a kernel's /sys and /proc have.

Checked per case (every scenario, every parameter variant): the marker,
file modes, links, the attributes kernel-abi.md §8 lists per object, block
ids, node/block back-links, driver back-links, meminfo and iomem formats,
and agreement of derived files with the resolved machine.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

from pmemctl.sim import load_machine
from pmemctl.sim.objects import HUGEPAGE_KEYS, MEMINFO_KEYS
from pmemctl.sim.scenario import Scenario
from pmemctl.sim.tree import MARKER_DIR
from pmemctl.units import format_cpulist, parse_cpulist

Built = tuple[Path, Scenario]

ALLOWED_MODES = {0o444, 0o644, 0o200, 0o400}


def read(root: Path, kpath: str) -> str:
    return (root / kpath.lstrip("/")).read_text().removesuffix("\n")


def exists(root: Path, kpath: str) -> bool:
    return os.path.lexists(root / kpath.lstrip("/"))


def mode(root: Path, kpath: str) -> int:
    return stat.S_IMODE(os.lstat(root / kpath.lstrip("/")).st_mode)


def walk(root: Path) -> tuple[list[str], list[str]]:
    """(files, links) as kernel paths, marker excluded."""
    files: list[str] = []
    links: list[str] = []
    base = str(root)
    for dirpath, dirnames, filenames in os.walk(base):
        if dirpath == base and MARKER_DIR in dirnames:
            dirnames.remove(MARKER_DIR)
        rel = dirpath[len(base):]
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                links.append(f"{rel}/{name}")
            elif name in filenames:
                files.append(f"{rel}/{name}")
    return files, links


# -- marker ----------------------------------------------------------------------


def test_marker_describes_the_tree(built: Built) -> None:
    root, scenario = built
    doc = json.loads((root / MARKER_DIR / "scenario.json").read_text())
    assert doc["name"] == scenario.name
    assert doc["params"] == scenario.params
    assert load_machine(root) == scenario.machine
    nodes = json.loads((root / MARKER_DIR / "devnodes.json").read_text())
    for node in nodes:
        assert set(node) == {"path", "type", "major", "minor"}
        kind = "char" if node["type"] == "c" else "block"
        link = f"/sys/dev/{kind}/{node['major']}:{node['minor']}"
        assert exists(root, link), link
        target = os.path.realpath(root / link.lstrip("/"))
        assert Path(target, "dev").read_text() == f"{node['major']}:{node['minor']}\n"
        assert os.path.basename(node["path"]) == os.path.basename(target)
    expected = {f"/dev/{d.name}" for d in scenario.machine.dax_devices}
    expected |= {f"/dev/ndctl{b.id}" for b in scenario.machine.buses}
    expected |= {f"/dev/{d.name}" for d in scenario.machine.dimms()}
    expected |= {f"/dev/{ns.blockdev}" for ns in scenario.machine.namespaces() if ns.blockdev}
    assert {n["path"] for n in nodes} == expected


# -- modes and links -----------------------------------------------------------------


def test_file_modes(built: Built) -> None:
    root, _ = built
    files, _ = walk(root)
    bad = {f: oct(mode(root, f)) for f in files if mode(root, f) not in ALLOWED_MODES}
    assert not bad
    for f in files:
        name = os.path.basename(f)
        parent = os.path.basename(os.path.dirname(f))
        m = mode(root, f)
        if name in ("bind", "unbind", "new_id", "remove_id") or (name == "uevent" and "/drivers/" in f):
            assert m == 0o200, f
        elif name == "resource" and f.startswith("/sys/"):
            assert m == 0o400, f  # physical addresses are root-only
        elif parent == "dax_region" and name == "align" or (
            re.fullmatch(r"mapping\d+", parent) and name in ("start", "end", "page_offset")
        ):
            assert m == 0o400, f
        elif re.search(r"/memory\d+/(state|online)$", f):
            assert m == 0o644, f
        elif re.search(r"/memory\d+/(phys_index|removable|phys_device|valid_zones)$", f):
            assert m == 0o444, f
    assert mode(root, "/sys/devices/system/memory/block_size_bytes") == 0o444
    assert mode(root, "/sys/devices/system/memory/auto_online_blocks") == 0o644


def test_links_are_relative_and_resolve_inside_the_tree(built: Built) -> None:
    root, _ = built
    _, links = walk(root)
    real_root = os.path.realpath(root)
    for link in links:
        target = os.readlink(root / link.lstrip("/"))
        assert not target.startswith("/"), link
        resolved = os.path.realpath(root / link.lstrip("/"))
        assert resolved.startswith(real_root + "/"), (link, target)
        assert os.path.exists(resolved), (link, target)


def test_bus_and_class_links_point_at_devices_of_that_subsystem(built: Built) -> None:
    root, _ = built
    for bus in os.listdir(root / "sys/bus"):
        devices = root / "sys/bus" / bus / "devices"
        for name in os.listdir(devices):
            dev = os.path.realpath(devices / name)
            assert os.path.basename(dev) == name
            assert os.path.realpath(os.path.join(dev, "subsystem")) == os.path.realpath(root / "sys/bus" / bus)


def test_driver_links_agree_both_ways(built: Built) -> None:
    root, _ = built
    _, links = walk(root)
    for link in links:
        if os.path.basename(link) != "driver" or not link.startswith("/sys/devices/"):
            continue
        dev = os.path.dirname(link)
        driver_dir = os.path.realpath(root / link.lstrip("/"))
        back = os.path.join(driver_dir, os.path.basename(dev))
        assert os.path.realpath(back) == os.path.realpath(root / dev.lstrip("/")), link
    drivers_root = root / "sys/bus"
    for bus in os.listdir(drivers_root):
        for driver in os.listdir(drivers_root / bus / "drivers"):
            ddir = drivers_root / bus / "drivers" / driver
            for name in os.listdir(ddir):
                entry = ddir / name
                if not entry.is_symlink() or name == "module":
                    continue
                assert os.path.realpath(entry / "driver") == os.path.realpath(ddir), entry


# -- memory blocks and nodes ----------------------------------------------------------


def test_memory_blocks_match_machine(built: Built) -> None:
    root, scenario = built
    m = scenario.machine
    mem = root / "sys/devices/system/memory"
    names = sorted(int(n[6:]) for n in os.listdir(mem) if re.fullmatch(r"memory\d+", n))
    assert names == [b.index for b in m.blocks]
    assert read(root, "/sys/devices/system/memory/block_size_bytes") == f"{m.block_size:x}"
    assert read(root, "/sys/devices/system/memory/auto_online_blocks") == m.auto_online_blocks
    for block in m.blocks:
        kpath = f"/sys/devices/system/memory/memory{block.index}"
        phys_index = read(root, f"{kpath}/phys_index")
        assert re.fullmatch(r"[0-9a-f]{8,}", phys_index) and int(phys_index, 16) == block.index
        assert read(root, f"{kpath}/state") == ("online" if block.online else "offline")
        assert read(root, f"{kpath}/online") == ("1" if block.online else "0")
        assert read(root, f"{kpath}/valid_zones") == block.valid_zones
        assert read(root, f"{kpath}/removable") == "1"
        assert read(root, f"{kpath}/phys_device") == "0"
        node_links = [n for n in os.listdir(root / kpath.lstrip("/")) if re.fullmatch(r"node\d+", n)]
        assert node_links == [f"node{block.node}"]
        assert os.readlink(root / kpath.lstrip("/") / f"node{block.node}") == f"../../node/node{block.node}"
        assert os.readlink(root / f"sys/bus/memory/devices/memory{block.index}") == (
            f"../../../devices/system/memory/memory{block.index}"
        )


def test_node_and_block_back_links_agree(built: Built) -> None:
    root, scenario = built
    nodes_dir = root / "sys/devices/system/node"
    from_nodes: dict[int, int] = {}
    for entry in os.listdir(nodes_dir):
        if not re.fullmatch(r"node\d+", entry):
            continue
        for name in os.listdir(nodes_dir / entry):
            if re.fullmatch(r"memory\d+", name):
                assert os.readlink(nodes_dir / entry / name) == f"../../memory/{name}"
                from_nodes[int(name[6:])] = int(entry[4:])
    assert from_nodes == {b.index: b.node for b in scenario.machine.blocks}


def test_node_dirs_masks_and_distance(built: Built) -> None:
    root, scenario = built
    m = scenario.machine
    online = m.online_nodes()
    node_root = "/sys/devices/system/node"
    present = sorted(int(n[4:]) for n in os.listdir(root / node_root.lstrip("/")) if re.fullmatch(r"node\d+", n))
    assert present == online
    assert read(root, f"{node_root}/possible") == format_cpulist(m.possible_nodes)
    assert read(root, f"{node_root}/online") == format_cpulist(online)
    assert parse_cpulist(read(root, f"{node_root}/has_cpu")) == tuple(n.id for n in m.nodes if n.cpus)
    assert parse_cpulist(read(root, f"{node_root}/has_memory")) == tuple(m.nodes_with_online_memory())
    assert parse_cpulist(read(root, f"{node_root}/has_normal_memory")) == tuple(m.nodes_with_normal_memory())
    assert exists(root, f"{node_root}/has_generic_initiator")
    for node_id in online:
        node = m.node(node_id)
        assert node is not None
        kpath = f"{node_root}/node{node_id}"
        for attr in ("cpulist", "cpumap", "distance", "meminfo", "numastat", "vmstat"):
            assert exists(root, f"{kpath}/{attr}"), f"{kpath}/{attr}"
        assert read(root, f"{kpath}/distance").split() == [str(m.distance_between(node_id, o)) for o in online]
        assert parse_cpulist(read(root, f"{kpath}/cpulist")) == node.cpus
        for cpu in node.cpus:
            assert os.readlink(root / kpath.lstrip("/") / f"cpu{cpu}") == f"../../cpu/cpu{cpu}"
            assert os.readlink(root / f"sys/devices/system/cpu/cpu{cpu}/node{node_id}") == f"../../node/node{node_id}"
        assert os.readlink(root / kpath.lstrip("/") / "subsystem") == "../../../../bus/node"
        for index, access in ((0, node.access0), (1, node.access1)):
            base = f"{kpath}/access{index}/initiators"
            assert exists(root, base) == (access is not None)
            if access is not None:
                assert int(read(root, f"{base}/read_latency")) == access.read_latency
                assert int(read(root, f"{base}/write_bandwidth")) == access.write_bandwidth
                for initiator in access.initiators:
                    assert os.readlink(root / base.lstrip("/") / f"node{initiator}") == f"../../../node{initiator}"


MEMINFO_LINE = re.compile(r"^Node (\d+) ([A-Za-z_()]+):( +)(\d+)( kB)?$")


def test_meminfo_format_and_totals(built: Built) -> None:
    root, scenario = built
    m = scenario.machine
    proc_total = 0
    for node_id in m.online_nodes():
        node = m.node(node_id)
        assert node is not None
        lines = read(root, f"/sys/devices/system/node/node{node_id}/meminfo").split("\n")
        keys = []
        values: dict[str, int] = {}
        for line in lines:
            match = MEMINFO_LINE.match(line)
            assert match, line
            assert int(match.group(1)) == node_id
            key = match.group(2)
            keys.append(key)
            values[key] = int(match.group(4))
            if key in HUGEPAGE_KEYS:
                # "Node 0 HugePages_Total:     0": key padded to 17 columns, then %5u.
                assert line == f"Node {node_id} {key + ':':<17}{values[key]:>5}"
            else:
                # "Node 0 MemTotal:        6777044 kB": key padded to 16 columns, then %8lu.
                assert line == f"Node {node_id} {key + ':':<16}{values[key]:>8} kB"
        assert keys == list(MEMINFO_KEYS) + list(HUGEPAGE_KEYS)
        online = [b.index for b in m.blocks if b.node == node_id and b.online]
        expected = 0
        for index in online:
            lo, hi = index * m.block_size, (index + 1) * m.block_size
            boot = sum(max(0, min(hi, r[1]) - max(lo, r[0])) for r in node.dram)
            expected += boot or m.block_size
        expected = max(expected // 1024 - node.reserved_kb, 0)
        assert values["MemTotal"] == expected
        assert values["MemFree"] + values["MemUsed"] == values["MemTotal"]
        proc_total += expected
    proc = read(root, "/proc/meminfo").split("\n")
    assert proc[0] == f"{'MemTotal:':<16}{proc_total:>8} kB"
    assert all(re.fullmatch(r"[A-Za-z_()0-9]+: +\d+( kB)?", line) for line in proc)


def test_memory_tiers(built: Built) -> None:
    root, scenario = built
    tiers_dir = root / "sys/devices/virtual/memory_tiering"
    found = {
        int(n[len("memory_tier"):]): read(root, f"/sys/devices/virtual/memory_tiering/{n}/nodelist")
        for n in os.listdir(tiers_dir)
        if n.startswith("memory_tier")
    }
    assert found == {t: format_cpulist(ns) for t, ns in scenario.machine.memory_tiers().items()}
    for tier in found:
        assert os.readlink(root / f"sys/bus/memory_tiering/devices/memory_tier{tier}") == (
            f"../../../devices/virtual/memory_tiering/memory_tier{tier}"
        )
    assert read(root, "/sys/kernel/mm/numa/demotion_enabled") in ("true", "false")


def test_policy_and_module_files(built: Built) -> None:
    root, scenario = built
    m = scenario.machine
    params = "/sys/module/memory_hotplug/parameters"
    assert read(root, f"{params}/online_policy") == m.online_policy
    assert read(root, f"{params}/memmap_on_memory") == m.memmap_on_memory
    assert read(root, f"{params}/auto_movable_ratio") == str(m.auto_movable_ratio)
    assert read(root, f"{params}/auto_movable_numa_aware") == m.auto_movable_numa_aware
    for module in ("kmem", "device_dax", "dax_pmem"):
        assert (root / "sys/module" / module).is_dir()
    assert read(root, "/proc/cmdline") == m.cmdline
    for driver in ("device_dax", "kmem"):
        for attr in ("bind", "unbind", "new_id", "remove_id", "uevent"):
            assert mode(root, f"/sys/bus/dax/drivers/{driver}/{attr}") == 0o200
    if m.buses:
        for driver in ("nd_bus", "nd_region", "nd_pmem", "nvdimm", "dax_pmem"):
            for attr in ("bind", "unbind", "uevent"):
                if driver == "nd_bus" and attr != "uevent":
                    # suppress_bind_attrs (drivers/nvdimm/bus.c)
                    assert not exists(root, f"/sys/bus/nd/drivers/{driver}/{attr}")
                    continue
                assert mode(root, f"/sys/bus/nd/drivers/{driver}/{attr}") == 0o200


# -- nd and dax objects (kernel-abi.md §8) --------------------------------------------

BUS_ATTRS = ("commands", "provider", "wait_probe", "uevent")
DIMM_ATTRS = ("dev", "commands", "modalias", "devtype", "state", "flags", "available_slots",
              "nfit/handle", "nfit/phys_id", "nfit/id", "nfit/serial", "nfit/family", "nfit/dsm_mask",
              "nfit/format", "nfit/formats", "nfit/flags")
REGION_ATTRS = ("size", "align", "nstype", "mappings", "mapping0", "read_only", "modalias", "devtype", "numa_node",
                "target_node", "resource", "init_namespaces", "max_available_extent", "namespace_seed",
                "pfn_seed", "dax_seed", "btt_seed", "badblocks", "nfit/range_index")
NS_IO_ATTRS = ("nstype", "size", "holder", "holder_class", "force_raw", "mode", "modalias", "devtype",
               "numa_node", "target_node")
NS_PMEM_ATTRS = NS_IO_ATTRS + ("uuid", "alt_name", "sector_size", "dpa_extents")
SEED_ATTRS = ("modalias", "devtype", "uuid", "namespace")
DAX_DEVICE_ATTRS = ("dev", "size", "align", "resource", "target_node", "numa_node", "modalias",
                    "mapping0/start", "mapping0/end", "mapping0/page_offset")


def test_nd_objects_have_their_attributes(built: Built) -> None:
    root, scenario = built
    m = scenario.machine
    for bus in m.buses:
        for attr in BUS_ATTRS:
            assert exists(root, f"{bus.kpath}/{attr}"), f"{bus.kpath}/{attr}"
        ctl = f"{bus.kpath}/nd/ndctl{bus.id}"
        assert read(root, f"{ctl}/dev") == f"{bus.major}:{bus.minor}"
        assert os.readlink(root / ctl.lstrip("/") / "device") == f"../../../ndbus{bus.id}"
        assert os.path.realpath(root / f"sys/class/nd/ndctl{bus.id}") == os.path.realpath(root / ctl.lstrip("/"))
        assert read(root, f"{bus.kpath}/provider") == bus.provider
        for dimm in bus.dimms:
            for attr in DIMM_ATTRS:
                assert exists(root, f"{dimm.kpath}/{attr}"), f"{dimm.kpath}/{attr}"
            # security/frozen only with security ops (nvdimm_visible)
            for attr in ("security", "frozen"):
                assert exists(root, f"{dimm.kpath}/{attr}") == (dimm.security != "none")
            active = dimm.has_driver_data and any(
                r.enabled and any(mp.dimm == dimm.name for mp in r.mappings) for r in bus.regions)
            assert read(root, f"{dimm.kpath}/state") == ("active" if active else "idle")
        for region in bus.regions:
            for attr in REGION_ATTRS:
                assert exists(root, f"{region.kpath}/{attr}"), f"{region.kpath}/{attr}"
            assert exists(root, f"{region.kpath}/set_cookie") == bus.nfit
            # region_visible: labelled regions and any region with an interleave set
            assert exists(root, f"{region.kpath}/available_size") == (region.labeled or bus.nfit)
            assert read(root, f"{region.kpath}/size") == str(region.size)
            assert read(root, f"{region.kpath}/align") == f"{region.align:#x}"
            assert read(root, f"{region.kpath}/resource") == f"{region.base:#x}"
            assert read(root, f"{region.kpath}/mappings") == str(len(region.mappings))
            for i, mp in enumerate(region.mappings):
                assert read(root, f"{region.kpath}/mapping{i}") == f"{mp.dimm},{mp.offset},{mp.length},{mp.position}"
            for seed in (region.pfn_seed, region.dax_seed, region.btt_seed):
                for attr in SEED_ATTRS:
                    assert exists(root, f"{region.kpath}/{seed}/{attr}"), f"{seed}/{attr}"
                assert not exists(root, f"{region.kpath}/{seed}/driver")
            assert read(root, f"{region.kpath}/namespace_seed") == region.namespace_seed
            for ns in region.namespaces:
                attrs = NS_PMEM_ATTRS if ns.nstype == 5 else NS_IO_ATTRS
                for attr in attrs:
                    assert exists(root, f"{ns.kpath}/{attr}"), f"{ns.kpath}/{attr}"
                assert exists(root, f"{ns.kpath}/resource") == (ns.size > 0)
                if ns.nstype == 5:
                    sel = read(root, f"{ns.kpath}/sector_size") + "\n"
                    assert re.fullmatch(r"((\[\d+\]|\d+) )+\n", sel), sel
                assert read(root, f"{ns.kpath}/holder") == (ns.holder or "")
                assert exists(root, f"{ns.kpath}/driver") == ns.enabled
                if ns.blockdev:
                    assert exists(root, f"{ns.blockdev_parent}/block/{ns.blockdev}/dev")
                if ns.holder:
                    hk = f"{region.kpath}/{ns.holder}"
                    assert read(root, f"{hk}/namespace") == ns.name
                    assert read(root, f"{hk}/uuid") == ns.holder_uuid
                    if ns.holder_class == "dax":
                        for attr in ("mode", "align", "resource", "size", "supported_alignments",
                                     "dax_region/id", "dax_region/size", "dax_region/align"):
                            assert exists(root, f"{hk}/{attr}"), f"{hk}/{attr}"
                        assert read(root, f"{hk}/modalias") == "nd:t7"
                        assert read(root, f"{hk}/devtype") == "nd_dax"
                        assert os.readlink(root / hk.lstrip("/") / "driver").endswith("bus/nd/drivers/dax_pmem")


def test_dax_devices_have_their_attributes(built: Built) -> None:
    root, scenario = built
    m = scenario.machine
    listed = sorted(os.listdir(root / "sys/bus/dax/devices"))
    assert listed == sorted(d.name for d in m.dax_devices)
    for dev in m.dax_devices:
        for attr in DAX_DEVICE_ATTRS:
            assert exists(root, f"{dev.kpath}/{attr}"), f"{dev.kpath}/{attr}"
        assert read(root, f"{dev.kpath}/dev") == f"{dev.major}:{dev.minor}"
        assert read(root, f"{dev.kpath}/size") == str(dev.size)
        assert read(root, f"{dev.kpath}/resource") == f"{dev.resource:#x}"
        assert read(root, f"{dev.kpath}/target_node") == str(dev.target_node)
        assert read(root, f"{dev.kpath}/modalias") == "dax:t0"
        assert os.readlink(root / dev.kpath.lstrip("/") / "subsystem").endswith("/bus/dax")
        link = os.readlink(root / f"sys/bus/dax/devices/{dev.name}")
        assert link == "../../.." + dev.kpath[len("/sys"):]
        assert os.path.realpath(root / f"sys/dev/char/{dev.major}:{dev.minor}") == os.path.realpath(
            root / dev.kpath.lstrip("/")
        )
        driver = os.path.join(root, dev.kpath.lstrip("/"), "driver")
        if dev.driver is None:
            assert not os.path.lexists(driver)
        else:
            assert os.path.basename(os.readlink(driver)) == dev.driver
        region = m.dax_region(dev.region_id, dev.region_kpath)
        assert region is not None
        base = f"{region.kpath}/dax_region"
        assert read(root, f"{base}/id") == str(region.id)
        assert read(root, f"{base}/size") == str(region.size)
        assert mode(root, f"{base}/align") == 0o400
        for attr in ("available_size", "seed", "create", "delete"):
            assert exists(root, f"{base}/{attr}") == region.dynamic
        for i, mp in enumerate(dev.mappings):
            assert read(root, f"{dev.kpath}/mapping{i}/start") == f"{mp.start:#x}"
            assert read(root, f"{dev.kpath}/mapping{i}/end") == f"{mp.end:#x}"


# -- /proc/iomem -------------------------------------------------------------------------

IOMEM_LINE = re.compile(r"^((?:  )*)([0-9a-f]{8,})-([0-9a-f]{8,}) : (.+)$")


def parse_iomem(text: str) -> list[tuple[int, int, int, str]]:
    out = []
    for line in text.split("\n"):
        match = IOMEM_LINE.match(line)
        assert match, line
        out.append((len(match.group(1)) // 2, int(match.group(2), 16), int(match.group(3), 16), match.group(4)))
    return out


def test_iomem_nesting_and_kmem_resources(built: Built) -> None:
    root, scenario = built
    m = scenario.machine
    entries = parse_iomem(read(root, "/proc/iomem"))
    stack: list[tuple[int, int, int, str]] = []
    for depth, start, end, name in entries:
        assert start <= end
        stack = stack[:depth]
        assert len(stack) == depth, f"orphan {name}"
        if stack:
            parent = stack[-1]
            assert parent[1] <= start and end <= parent[2], (name, parent[3])
        stack.append((depth, start, end, name))
    kmem = [e for e in entries if e[3] == "System RAM (kmem)"]
    expected = sorted(r for d in m.dax_devices if d.driver == "kmem" for r in d.hotplug_ranges)
    assert sorted((e[1], e[2] + 1) for e in kmem) == expected
    for depth, _start, _end, _name in kmem:
        assert depth >= 1
    ram = [(s, e + 1) for d, s, e, n in entries if n == "System RAM" and d == 0]
    assert sorted(ram) == sorted(r for n in m.nodes for r in n.dram)
    for region in m.regions():
        assert (0, region.base, region.base + region.size - 1, "Persistent Memory") in entries
