"""The qemu-nvdimm trees show what the real Debian 6.1 guest showed
(reference/real-kernel-lab.md), file by file."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pmemctl.sim.cases import Case, TreeCache

BUS = "/sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0"


def tree(sim_trees: TreeCache, stage: str) -> Path:
    return sim_trees.get(Case("qemu-nvdimm", {"stage": stage}))[0]


def read(root: Path, kpath: str) -> str:
    return (root / kpath.lstrip("/")).read_text().removesuffix("\n")


def memory_blocks(root: Path) -> list[int]:
    return sorted(int(n[6:]) for n in os.listdir(root / "sys/devices/system/memory") if n[6:].isdigit())


@pytest.mark.parametrize("stage", ["raw", "devdax", "system-ram"])
def test_common_facts(sim_trees: TreeCache, stage: str) -> None:
    root = tree(sim_trees, stage)
    assert read(root, "/sys/devices/system/memory/block_size_bytes") == "8000000"
    assert read(root, "/sys/devices/system/memory/auto_online_blocks") == "offline"
    assert "memhp_default_state=offline" in read(root, "/proc/cmdline").split()
    assert read(root, f"{BUS}/provider") == "ACPI.NFIT"
    assert read(root, "/sys/devices/system/node/possible") == "0-1"
    assert read(root, "/sys/devices/system/node/has_cpu") == "0"
    assert read(root, "/sys/devices/system/node/node0/cpulist") == "0-1"
    assert read(root, "/sys/kernel/mm/numa/demotion_enabled") == "false"
    assert read(root, "/sys/devices/virtual/memory_tiering/memory_tier4/nodelist") == "0"
    assert read(root, f"{BUS}/region0/resource") == "0x100000000"
    assert read(root, f"{BUS}/region0/size") == "4160749568"  # the "4.16 GB" raw namespace
    assert read(root, "/sys/devices/system/node/node0/access0/initiators/read_latency").isdigit()
    params = "/sys/module/memory_hotplug/parameters"
    assert [read(root, f"{params}/{p}") for p in
            ("auto_movable_numa_aware", "auto_movable_ratio", "memmap_on_memory", "online_policy")] == [
        "Y", "301", "N", "contig-zones"]
    for i in range(16):
        assert read(root, f"/sys/devices/system/memory/memory{i}/state") == "online"
    assert read(root, "/sys/devices/system/memory/memory5/valid_zones") == "DMA32"


@pytest.mark.parametrize("stage", ["raw", "devdax"])
def test_before_kmem_node1_is_absent(sim_trees: TreeCache, stage: str) -> None:
    root = tree(sim_trees, stage)
    assert memory_blocks(root) == list(range(16))
    assert not (root / "sys/devices/system/node/node1").exists()
    assert read(root, "/sys/devices/system/node/online") == "0"
    assert read(root, "/sys/devices/system/node/has_memory") == "0"
    assert read(root, "/sys/devices/system/node/node0/distance") == "10"
    assert not (root / "sys/devices/virtual/memory_tiering/memory_tier22").exists()


def test_raw_stage(sim_trees: TreeCache) -> None:
    root = tree(sim_trees, "raw")
    region = f"{BUS}/region0"
    assert read(root, f"{region}/namespace0.0/mode") == "raw"
    assert read(root, f"{region}/namespace0.0/size") == "4160749568"
    assert sorted(n for n in os.listdir(root / region.lstrip("/")) if re.fullmatch(r"(btt|pfn|dax)\d+\.\d+", n)) == [
        "btt0.0", "dax0.0", "pfn0.0"]
    assert [read(root, f"{region}/{s}_seed") for s in ("btt", "pfn", "dax")] == ["btt0.0", "pfn0.0", "dax0.0"]
    assert os.listdir(root / "sys/bus/dax/devices") == []
    assert (root / region.lstrip("/") / "namespace0.0/block/pmem0").is_dir()
    # the label area is there but uninitialised: label-less region, all
    # 131072 // 257 = 510 slots less the one the kernel keeps back
    assert read(root, f"{region}/nstype") == "4"
    assert read(root, f"{BUS}/nmem0/available_slots") == "509"
    assert read(root, f"{BUS}/nmem0/flags") == ""
    assert read(root, f"{region}/available_size") == "4160749568"
    assert read(root, f"{region}/max_available_extent") == "4160749568"


@pytest.mark.parametrize("stage", ["raw", "devdax", "system-ram"])
def test_nfit_facts_of_the_real_guest(sim_trees: TreeCache, stage: str) -> None:
    root = tree(sim_trees, stage)
    assert read(root, f"{BUS}/commands") == "cmd_call "  # each name followed by a space
    assert read(root, f"{BUS}/wait_probe") == "1"
    assert read(root, f"{BUS}/nmem0/state") == "active"
    assert not (root / BUS.lstrip("/") / "nmem0/security").exists()
    # v1.2 cookie of serial 0x123456 / vendor 0x8086 as QEMU stores them
    assert read(root, f"{BUS}/region0/set_cookie") == "0xba90120012b4dc"
    assert read(root, f"{BUS}/region0/nfit/range_index") == "2"
    assert (root / BUS.lstrip("/") / "region0/badblocks").read_bytes() == b""
    assert read(root, "/sys/devices/system/cpu/kernel_max") == "8191"
    assert read(root, "/sys/devices/system/node/node0/meminfo").split("\n")[0] == "Node 0 MemTotal:        1945652 kB"


def test_labelled_stage(sim_trees: TreeCache) -> None:
    """After `ndctl init-labels` on the booted machine (the real guest of the
    namespaces boot): v1.1 index, no namespace but the idle seed."""
    root = tree(sim_trees, "labelled")
    region = f"{BUS}/region0"
    assert read(root, f"{region}/nstype") == "5"
    assert read(root, f"{region}/namespace_seed") == "namespace0.0"
    assert read(root, f"{region}/namespace0.0/size") == "0"
    assert read(root, f"{region}/namespace0.0/devtype") == "nd_namespace_pmem"
    assert read(root, f"{region}/available_size") == "4160749568"
    assert read(root, f"{region}/init_namespaces") == "1/1"
    # (131072 - 2 index blocks of 256) // 128-byte v1.1 labels = 1020, less one
    assert read(root, f"{BUS}/nmem0/available_slots") == "1019"
    assert read(root, f"{BUS}/nmem0/flags") == "label "
    # cookie1 (offset, serial) once the DIMM carries a v1.1 index
    assert read(root, f"{region}/set_cookie") == "0x2468ac00123456"
    assert os.listdir(root / "sys/bus/dax/devices") == []


def test_devdax_stage(sim_trees: TreeCache) -> None:
    root = tree(sim_trees, "devdax")
    dev = f"{BUS}/region0/dax0.0/dax0.0"
    assert read(root, f"{dev}/size") == "4093640704"
    assert read(root, f"{dev}/target_node") == "1"
    assert read(root, f"{dev}/numa_node") == "0"
    assert read(root, f"{dev}/resource") == "0x104000000"
    assert os.readlink(root / dev.lstrip("/") / "driver").endswith("bus/dax/drivers/device_dax")
    assert read(root, f"{BUS}/region0/namespace0.0/mode") == "dax"
    assert read(root, f"{BUS}/region0/dax_seed") == "dax0.1"
    # ndctl initialised the labels: labelled region, one v1.2 label in use
    ns = f"{BUS}/region0/namespace0.0"
    assert read(root, f"{BUS}/region0/nstype") == "5"
    assert read(root, f"{ns}/devtype") == "nd_namespace_pmem"
    assert read(root, f"{ns}/sector_size") == "512 4096 "
    assert read(root, f"{ns}/dpa_extents") == "1"
    assert read(root, f"{BUS}/region0/namespace_seed") == "namespace0.1"
    assert read(root, f"{BUS}/region0/namespace0.1/size") == "0"
    assert read(root, f"{BUS}/nmem0/flags") == "label "
    assert read(root, f"{BUS}/nmem0/available_slots") == "508"
    assert read(root, f"{BUS}/region0/available_size") == "0"
    assert read(root, f"{dev}/modalias") == "dax:t0"


def test_system_ram_stage(sim_trees: TreeCache) -> None:
    root = tree(sim_trees, "system-ram")
    assert memory_blocks(root) == list(range(16)) + list(range(33, 63))
    for i in range(33, 63):
        base = f"/sys/devices/system/memory/memory{i}"
        assert read(root, f"{base}/state") == "online"
        assert read(root, f"{base}/valid_zones") == "Movable"
        assert read(root, f"{base}/removable") == "1"
        assert os.readlink(root / base.lstrip("/") / "node1") == "../../node/node1"
    assert read(root, "/sys/devices/system/memory/memory40/phys_index") == "00000028"
    meminfo = read(root, "/sys/devices/system/node/node1/meminfo").split("\n")
    assert meminfo[0] == "Node 1 MemTotal:        3932160 kB"
    assert read(root, "/sys/devices/system/node/node1/cpulist") == ""
    assert read(root, "/sys/devices/system/node/node1/distance") == "20 10"
    assert read(root, "/sys/devices/system/node/online") == "0-1"
    assert read(root, "/sys/devices/system/node/has_memory") == "0-1"
    assert read(root, "/sys/devices/system/node/has_normal_memory") == "0"
    assert read(root, "/sys/devices/system/node/has_cpu") == "0"
    assert read(root, "/sys/devices/virtual/memory_tiering/memory_tier22/nodelist") == "1"
    iomem = read(root, "/proc/iomem")
    assert "  108000000-1f7ffffff : dax0.0\n    108000000-1f7ffffff : System RAM (kmem)" in iomem
    assert "100000000-1f7ffffff : Persistent Memory\n  100000000-103ffffff : namespace0.0" in iomem
    dev = f"{BUS}/region0/dax0.0/dax0.0"
    assert os.readlink(root / dev.lstrip("/") / "driver").endswith("bus/dax/drivers/kmem")
