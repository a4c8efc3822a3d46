"""Kernel profiles (pmemctl.sim.kernels): the facts each kernel computes, and
the simulated machine built for a kernel (``sim create --kernel``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pmemctl.sim.build import materialise
from pmemctl.sim.kernels import (
    DEFAULT_KERNEL,
    PROFILES,
    TIER_DAX_DEFAULT,
    TIER_DRAM,
    Perf,
    get_profile,
    profile_for_release,
    tier_adistance_range,
)
from pmemctl.sim.scenario import load_scenario

DRAM_QEMU = Perf(10, 10, 10240, 10240)  # qemu-nvdimm's node 0 HMAT figures
DRAM_HARNESS = Perf(100, 100, 16384, 16384)  # tests/vm harness defaults


def test_tiers_as_measured_on_debian_6_12_under_qemu() -> None:
    """reference/provisioning.md §5: one NVDIMM node -> tier 36; the dual
    boot's two nodes (150 ns/8 GB/s, 400 ns/2 GB/s) -> 13 and 144."""
    p = get_profile("6.12")
    assert p.kmem_tier(Perf(40, 40, 5120, 5120), DRAM_QEMU) == 36
    assert p.kmem_tier(Perf(150, 150, 8192, 8192), DRAM_HARNESS) == 13
    assert p.kmem_tier(Perf(400, 400, 2048, 2048), DRAM_HARNESS) == 144


def test_without_hmat_or_before_6_7_kmem_uses_the_default_tier() -> None:
    assert TIER_DRAM == 4 and TIER_DAX_DEFAULT == 22
    assert get_profile("6.1").kmem_tier(Perf(40, 40, 5120, 5120), DRAM_QEMU) == 22
    assert get_profile("6.12").kmem_tier(None, DRAM_QEMU) == 22
    assert get_profile("6.12").kmem_tier(Perf(40, 40, 5120, 5120), None) == 22
    assert tier_adistance_range(22) == (2816, 2943)


def test_features_follow_the_release() -> None:
    old, new = get_profile("6.1"), get_profile("6.12")
    assert not old.dax_memmap_on_memory and new.dax_memmap_on_memory
    assert not old.auto_kmem_hmem_cxl and new.auto_kmem_hmem_cxl
    assert not old.weighted_interleave and new.weighted_interleave
    assert old.default_online_kconfig == "CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE"
    assert new.default_online_kconfig.startswith("CONFIG_MHP_DEFAULT_ONLINE_TYPE")  # 6.12.110 backport
    assert old.dump_page_seen("[ 1.0] page:00000000a1b2c3d4 refcount:1 mapcount:0 mapping:0 index:0x0 pfn:0x110000")
    assert new.dump_page_seen("[ 1.0] page: refcount:1 mapcount:0 mapping:0000000000000000 index:0x0 pfn:0x110000")
    assert not new.dump_page_seen("[ 1.0] page:00000000a1b2c3d4 refcount:1 mapcount:0")
    six6 = profile_for_release("6.6.13+bpo-amd64")  # cxl-hmem's kernel
    assert six6.auto_kmem_hmem_cxl and not six6.hmat_tiering and not six6.dax_memmap_on_memory
    assert profile_for_release("6.12.57+deb13-amd64").name == "6.12"
    assert DEFAULT_KERNEL == "6.12" == max(PROFILES, key=lambda n: PROFILES[n].version)


@pytest.mark.parametrize("kernel, tier, memmap", [("6.1", 22, None), ("6.12", 36, False)])
def test_qemu_nvdimm_on_each_kernel(tmp_path: Path, kernel: str, tier: int, memmap: object) -> None:
    m = load_scenario("qemu-nvdimm", {"stage": "system-ram"}, kernel=kernel).machine
    assert m.kernel_release == PROFILES[kernel].release
    assert m.memory_tiers() == {4: [0], tier: [1]}
    root = materialise("qemu-nvdimm", tmp_path / "t", {"stage": "system-ram"}, kernel=kernel)
    tiers = root / "sys/devices/virtual/memory_tiering"
    assert (tiers / f"memory_tier{tier}/nodelist").read_text() == "1\n"
    attr = root / "sys/bus/dax/devices/dax0.0/memmap_on_memory"
    assert attr.exists() == (memmap is not None)
    # attributes 6.12 has and 6.1 lacks (as the real guests show)
    assert (root / "sys/devices/system/memory/crash_hotplug").exists() == (kernel == "6.12")
    assert (root / "sys/devices/system/node/node1/memory_failure/total").exists() == (kernel == "6.12")


def test_scenario_without_kernel_keeps_its_own_release() -> None:
    assert load_scenario("qemu-nvdimm").machine.kernel_release == "6.1.0-28-amd64"
    assert load_scenario("cxl-hmem").machine.memory_tiers() == {4: [0]}  # devdax: node 1 has no memory yet
    m = load_scenario("cxl-hmem", {"mode": "system-ram"}, kernel="6.12").machine
    # HMAT: 250 ns / 25 GB/s against DRAM's 90 ns / 40 GB/s
    assert m.memory_tiers() == {4: [0], get_profile("6.12").kmem_tier(
        Perf(250, 250, 25000, 25000), Perf(90, 90, 40000, 40000)): [1]}


def test_unknown_kernel_is_refused() -> None:
    from pmemctl.errors import NotFound

    with pytest.raises(NotFound, match="known kernels: 6.1, 6.12"):
        load_scenario("qemu-nvdimm", kernel="5.4")


def test_a_tier_follows_the_node_back_online(tmp_path: Path) -> None:
    """The simulated kernel's recomputed tiers keep the HMAT-derived number
    when node 1 comes online again through kmem (the 6.12 guest's topology)."""
    from pmemctl.sim.kernel import SimulatedKernel

    root = materialise("qemu-nvdimm", tmp_path / "t", {"stage": "devdax"}, kernel="6.12")
    door = SimulatedKernel(str(root))
    door.write("/sys/bus/dax/drivers/device_dax/unbind", "dax0.0")
    door.write("/sys/bus/dax/drivers/kmem/new_id", "dax0.0")
    door.write("/sys/devices/system/memory/memory33/state", "online_movable")
    tiers = root / "sys/devices/virtual/memory_tiering"
    assert sorted(p.name for p in tiers.glob("memory_tier*")) == ["memory_tier36", "memory_tier4"]


@pytest.mark.parametrize("kernel, driver", [("6.1", "device_dax"), ("6.12", "kmem")])
def test_hmem_and_cxl_ram_bind_to_kmem_at_boot_since_6_3(kernel: str, driver: str) -> None:
    for kind in ("hmem", "cxl"):
        m = load_scenario("cxl-hmem", {"kind": kind, "mode": "boot"}, kernel=kernel).machine
        [dev] = m.dax_devices
        assert dev.driver == driver, kind
        blocks = m.blocks_of(dev.name)
        assert bool(blocks) == (driver == "kmem")
        # memhp_default_state=offline on the scenario's command line: kmem adds them offline
        assert not [b for b in blocks if b.online]


def test_readme_kernel_table_is_current() -> None:
    from pmemctl.sim.kernels import README_BEGIN, README_END, markdown_table

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start, end = readme.index(README_BEGIN) + len(README_BEGIN) + 1, readme.index(README_END)
    assert readme[start:end] == markdown_table(), "stale: replace the block with `python3 -m pmemctl.sim.kernels`"
