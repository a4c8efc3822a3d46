"""Real-kernel tier: facts of Debian's 6.1 and 6.12 kernels with emulated NVDIMMs.

Every test runs once per guest kernel (``vm_kernel``); what a kernel
computes (memory tiers, built-in modules, dmesg formats) comes from its
profile (``vm_profile``, :mod:`pmemctl.sim.kernels`).

Two boots serve every test here (fixtures in conftest.py):

* ``single``: one 4 GiB NVDIMM on node 1, raw -> devdax -> system-ram with
  ndctl/daxctl, sysfs captures at each stage, then the write-semantics probe;
* ``dual``: two NVDIMMs on memory-only nodes 1 and 2 with different HMAT
  figures, both converted.

What these tests pin down is the ground truth the simulator must match.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from pmemctl.units import format_cpulist

from . import harness
from .conftest import DUAL_NVDIMMS, kmem_tier

pytestmark = pytest.mark.vm

HERE = Path(__file__).resolve().parent
STAGES = ("raw", "devdax", "system-ram")
MEM = "/sys/devices/system/memory"
NODE = "/sys/devices/system/node"
DAX = "/sys/bus/dax/devices/dax0.0"
TIERS = "/sys/devices/virtual/memory_tiering"
BUS_PATH = "devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0"
KMEM_BLOCKS = [f"memory{i}" for i in range(33, 63)]  # 30 blocks


# --------------------------------------------------------------------------
# harness pieces that need no boot


def test_module_load_order_from_modules_dep(vm_ready, vm_profile):
    prep = vm_ready
    names = [harness._modname(m) for m in prep.modules]
    moddir = prep.vmlinuz.parent.parent / "lib" / "modules" / prep.kernel_version
    builtin = {harness._modname(m) for m in (moddir / "modules.builtin").read_text().split()}
    assert set(vm_profile.builtin_guest_modules) <= builtin
    for wanted in harness.GUEST_MODULES:
        key = wanted.replace("-", "_")
        assert (key in names) != (key in builtin), key  # loaded, or built in (never both)
    assert all(m.endswith(vm_profile.module_suffix) for m in prep.modules)
    # every dependency is loaded before its user
    deps = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        mod, _, rest = line.partition(":")
        deps[mod] = rest.split()
    pos = {m: i for i, m in enumerate(prep.modules)}
    for m in prep.modules:
        for d in deps[m]:
            assert pos[d] < pos[m], f"{d} must precede {m}"
    assert names.index("libnvdimm") < names.index("nfit")
    if "virtio" not in builtin:
        assert names.index("virtio") < names.index("virtio_pci")
    if "netfs" in names:
        assert names.index("netfs") < names.index("9p")


def test_second_prepare_uses_cache(vm_ready, monkeypatch):
    first = vm_ready

    def no_download(*a, **k):
        raise AssertionError("prepare() tried to download although the kernel is cached")

    monkeypatch.setattr(harness, "_prepared", None)
    monkeypatch.setattr(harness, "_prepared_by_kernel", {})
    monkeypatch.setattr(harness, "_obtain_kernel", no_download)
    again = harness.prepare()  # the kernel under test ($PMEMCTL_VM_KERNEL)
    assert again.vmlinuz == first.vmlinuz and again.initramfs == first.initramfs
    assert again.kernel_version == first.kernel_version and again.kernel == first.kernel
    assert str(harness.cache_dir()) in str(again.vmlinuz)


def test_qemu_command_line(tmp_path):
    prep = harness.Prepared("6.1.0-0-amd64", "p", "v", Path("/k"), Path("/i"), ())
    argv = harness.qemu_argv(
        prep, tmp_path, tmp_path / "io", list(DUAL_NVDIMMS), dram=2 * harness.GiB,
        cpus=2, dram_latency_ns=100, dram_bandwidth_mbs=16384, cmdline="x",
    )
    line = " ".join(argv)
    assert "-accel tcg -cpu max" in line
    assert "pc,nvdimm=on,hmat=on" in line
    assert "node,nodeid=1,initiator=0" in line and "node,nodeid=2,initiator=0" in line
    assert "target=2,hierarchy=memory,data-type=access-latency,latency=400" in line
    assert "target=1,hierarchy=memory,data-type=access-bandwidth,bandwidth=8192M" in line
    assert "mount_tag=hostroot,security_model=none,readonly=on" in line
    imgs = sorted(tmp_path.glob("nvdimm*.img"))
    assert [p.stat().st_size for p in imgs] == [4 << 30, 2 << 30]
    assert all(p.stat().st_blocks == 0 for p in imgs)  # sparse
    with pytest.raises(ValueError):
        harness.NvdimmSpec(size=100 << 20)


# --------------------------------------------------------------------------
# single NVDIMM: boot, convert, facts


def test_guest_runs_host_userland_and_checkout(single, single_run):
    assert single_run.exit_code == 0
    path = single.ok("pmemctl-import").strip()
    assert path == str(harness.PROJECT_DIR / "pmemctl" / "__init__.py")
    mods = set(single.ok("modules").split())
    assert {"nfit", "libnvdimm", "nd_pmem", "dax_pmem", "device_dax", "kmem"} <= mods
    assert single_run.files["capture/raw.tar"]
    assert single_run.wall_seconds < 300, single_run.wall_seconds


def test_raw_stage(single):
    f = single.facts("raw")
    assert f[f"{MEM}/block_size_bytes"] == "8000000"  # 128 MiB, hex without 0x
    assert f[f"{MEM}/auto_online_blocks"] == "offline"
    assert f[f"{NODE}/possible"] == "0-1"
    assert f[f"{NODE}/online"] == "0"
    assert f[f"{NODE}/has_memory"] == "0"
    assert f[f"{NODE}/node1/distance"] == "!MISSING"  # memory-less node: no dir
    assert f[f"{DAX}/size"] == "!MISSING"  # nothing on the dax bus yet
    assert f[f"{TIERS}/memory_tier4/nodelist"] == "0"
    assert not [k for k in f if k.startswith(f"{TIERS}/") and "memory_tier4/" not in k]  # only DRAM's tier
    assert f["/sys/kernel/mm/numa/demotion_enabled"] == "false"
    hp = "/sys/module/memory_hotplug/parameters"
    assert f[f"{hp}/online_policy"] == "contig-zones"
    assert f[f"{hp}/auto_movable_ratio"] == "301"
    assert f[f"{hp}/memmap_on_memory"] == "N"


def test_devdax_stage(single):
    ns = single.json("create-namespace")
    assert ns["dev"] == "namespace0.0" and ns["mode"] == "devdax"
    assert ns["size"] == 4093640704
    dev = ns["daxregion"]["devices"][0]
    assert dev == {"chardev": "dax0.0", "size": 4093640704, "target_node": 1,
                   "align": 2097152, "mode": "devdax"}
    f = single.facts("devdax")
    assert f[f"{DAX}/size"] == "4093640704"
    assert f[f"{DAX}/target_node"] == "1"
    assert f[f"{DAX}/numa_node"] == "0"
    assert f[f"{DAX}/resource"] == "0x104000000"  # not 128 MiB aligned
    assert f[f"{DAX}/align"] == "2097152"
    assert f[f"{NODE}/online"] == "0"  # node 1 still absent
    assert f[f"{NODE}/node1/distance"] == "!MISSING"


def test_system_ram_stage(single, vm_profile):
    assert single.rc("reconfigure") == 0
    assert "reconfigured 1 device" in single.err("reconfigure")
    [dev] = single.json("daxctl-list")
    assert dev == {
        "chardev": "dax0.0", "size": 4093640704, "target_node": 1, "align": 2097152,
        "mode": "system-ram", "online_memblocks": 30, "total_memblocks": 30,
        "movable": True,
    }
    f = single.facts("system-ram")
    assert f[f"{NODE}/online"] == "0-1"
    assert f[f"{NODE}/has_memory"] == "0-1"
    assert f[f"{NODE}/has_normal_memory"] == "0"  # node 1 is Movable only
    assert f[f"{NODE}/has_cpu"] == "0"
    assert f[f"{NODE}/node1/cpulist"] == ""
    assert f[f"{NODE}/node1/distance"] == "20 10"
    assert f[f"{NODE}/node0/distance"] == "10 20"
    assert f[f"{TIERS}/memory_tier4/nodelist"] == "0"
    tier = kmem_tier(vm_profile, harness.NvdimmSpec())  # 22 on 6.1, from HMAT on 6.12
    assert f[f"{TIERS}/memory_tier{tier}/nodelist"] == "1"
    assert f["/sys/kernel/mm/numa/demotion_enabled"] == "false"
    assert f[f"{MEM}/auto_online_blocks"] == "offline"
    assert f[f"{DAX}/resource"] == "0x104000000"

    mem = single.json("lsmem")["memory"]
    [n1] = [m for m in mem if m["node"] == 1]
    assert n1 == {"range": "0x0000000108000000-0x00000001f7ffffff", "size": "3.8G",
                  "state": "online", "removable": True, "block": "33-62", "node": 1,
                  "zones": "Movable"}

    numa = single.ok("numactl-H")
    assert "available: 2 nodes (0-1)" in numa
    assert re.search(r"^node 1 cpus:\s*$", numa, re.M)
    assert "node 1 size: 3840 MB" in numa
    assert re.search(r"^\s+1:\s+20\s+10\s*$", numa, re.M)
    assert re.search(r"^Node 1 MemTotal:\s+3932160 kB$", single.ok("node1-meminfo"), re.M)

    iomem = single.ok("iomem")
    assert "100000000-1f7ffffff : Persistent Memory" in iomem
    assert "  100000000-103ffffff : namespace0.0" in iomem
    assert "  108000000-1f7ffffff : dax0.0" in iomem  # kmem's block-aligned claim
    assert "    108000000-1f7ffffff : System RAM (kmem)" in iomem

    node1 = set(single.ok("node1-ls").split())
    assert set(KMEM_BLOCKS) <= node1
    assert {"access0", "access1", "cpulist", "distance", "meminfo"} <= node1
    ls = single.ok("block-ls")
    assert re.search(r"^l\S+ .* node1 -> \.\./\.\./node/node1$", ls, re.M)
    assert re.search(r"^-rw-r--r-- .* state$", ls, re.M)
    assert re.search(r"^-r--r--r-- .* valid_zones$", ls, re.M)


# --------------------------------------------------------------------------
# write semantics (ground truth for the simulator)


@pytest.fixture(scope="module")
def probe(single, vm_ready):
    assert single.rc("probe") == 0, single.err("probe")
    data = json.loads(single.raw("probe.json"))
    assert data["kernel"] == vm_ready.kernel_version
    return data


def _errno(probe, step):
    s = probe["steps"][step]
    return s["errno"] if not s["ok"] else 0


@pytest.mark.parametrize(
    "step,expected",
    [
        # state writes to an online block
        ("online_movable_on_online", "EINVAL"),
        ("online_on_online", "EINVAL"),
        ("online_kernel_on_online", "EINVAL"),
        ("online_movable_nl_on_online", "EINVAL"),
        ("online_file_1_on_online", 0),  # `online` file: 1 on online block is fine
        ("bogus_state", "EINVAL"),
        ("empty_state", 0),  # a 0-byte write never reaches the kernel store
        # offline, and offline again
        ("offline_online_block", 0),
        ("offline_on_offline", "EINVAL"),
        ("online_file_0_on_offline", 0),  # `online` file: 0 on offline block is fine
        ("online_file_2_on_offline", "EINVAL"),
        ("online_movable_nul_on_offline", 0),  # daxctl's trailing NUL is accepted
        ("offline_mid", 0),
        ("online_kernel_mid", 0),
        ("offline_mid_again", 0),
        ("online_plain_mid", 0),
        # missing block, read-only attributes
        ("missing_block_state", "ENOENT"),
        ("ro_phys_index", "EACCES"),
        ("ro_valid_zones", "EACCES"),
        ("ro_removable", "EACCES"),
        ("ro_block_size_bytes", "EACCES"),
        ("ro_dax_size", "EACCES"),
        # auto_online_blocks
        ("auto_online_garbage", "EINVAL"),
        ("auto_online_online_movable", 0),
        ("auto_online_restore_offline", 0),
        # driver files while bound to kmem with blocks online
        ("device_dax_bind_while_kmem", "EBUSY"),
        ("kmem_bind_while_kmem", "EBUSY"),
        ("device_dax_unbind_not_bound", "ENODEV"),
        ("kmem_unbind_unknown_dev", "ENODEV"),
        ("kmem_bind_unknown_dev", "ENODEV"),
    ],
)
def test_write_semantics(probe, step, expected):
    assert _errno(probe, step) == expected, probe["steps"][step]


def test_write_semantics_phases(probe):
    steps = probe["steps"]
    # a missing block or a read-only attribute fails at open(2), not write(2)
    for name in ("missing_block_state", "ro_phys_index", "ro_valid_zones", "ro_removable"):
        assert steps[name]["phase"] == "open", steps[name]
    # store errors (EINVAL/EBUSY/ENODEV) come from write(2)
    for name in ("online_on_online", "offline_on_offline", "bogus_state",
                 "kmem_bind_while_kmem", "device_dax_unbind_not_bound"):
        assert steps[name]["phase"] == "write", steps[name]
    # successful writes consume the whole buffer, NUL included
    assert steps["online_movable_nul_on_offline"]["written"] == len("online_movable") + 1
    # reading a write-only (0200) driver file as root: EACCES
    assert steps["read_kmem_bind"]["errno"] == "EACCES"
    assert steps["read_kmem_new_id"]["errno"] == "EACCES"


def test_zone_observations(probe):
    s = probe["steps"]
    # failed writes leave the state alone
    assert s["online_on_online"]["state"] == "online"
    assert s["bogus_state"]["state"] == "online"
    assert s["offline_on_offline"]["state"] == "offline"
    assert s["auto_online_garbage"]["value"] == "offline"
    # the first block of the run, offlined: default zone listed first is Normal
    assert s["offline_online_block"]["valid_zones"] == "Normal Movable"
    assert s["offline_online_block"]["online"] == "0"
    assert s["online_movable_nul_on_offline"]["valid_zones"] == "Movable"
    # a block offlined in the middle of the Movable run lists Movable first
    assert s["offline_mid"]["valid_zones"] == "Movable Normal"
    # ...but online_kernel is still accepted there and lands in Normal
    assert s["online_kernel_mid"]["valid_zones"] == "Normal"
    assert s["offline_mid_again"]["valid_zones"] == "Movable Normal"
    # plain `online` joins the Movable neighbours
    assert s["online_plain_mid"]["valid_zones"] == "Movable"
    obs = probe["observed"]
    assert obs["blocks"] == KMEM_BLOCKS
    assert obs["initial_driver"] == "kmem"
    assert {(v["state"], v["valid_zones"]) for v in obs["initial"].values()} == {
        ("online", "Movable")}


def test_manual_round_trip(probe):
    """What pmemctl will do by hand: offline all, kmem off, device_dax on, and back."""
    rt = probe["observed"]["roundtrip"]
    assert rt["offline_all_errnos"] == ["0"]
    assert {v["state"] for v in rt["after_offline"].values()} == {"offline"}
    assert _errno(probe, "kmem_remove_id") == 0
    assert _errno(probe, "kmem_unbind_all_offline") == 0
    assert rt["driver_after_unbind"] is None
    assert rt["blocks_after_unbind"] == []  # blocks vanish with clean removal
    assert rt["node_online_after_unbind"] == "0"  # node 1 goes offline again
    assert rt["has_memory_after_unbind"] == "0"
    assert rt["tiers_after_unbind"] == {"memory_tier4": "0"}  # node 1's tier removed
    assert rt["dev_nodes_after_unbind"] == ["dax0.0"]  # /dev node stays while unbound
    # device_dax binds without new_id (it matches dax devices by default)
    assert _errno(probe, "device_dax_bind") == 0
    assert rt["driver_after_device_dax_bind"] == "device_dax"
    assert _errno(probe, "device_dax_remove_id") == 0  # not in the id list: still 0
    assert _errno(probe, "device_dax_unbind") == 0
    assert rt["driver_after_device_dax_unbind"] is None
    # kmem/new_id binds at once; the bind that follows is EBUSY
    assert _errno(probe, "kmem_new_id") == 0
    assert rt["driver_after_kmem_new_id"] == "kmem"
    assert _errno(probe, "kmem_bind_after_new_id") == "EBUSY"
    assert rt["driver_after_kmem_bind"] == "kmem"
    assert rt["blocks_after_rebind"] == KMEM_BLOCKS
    assert {(v["state"], v["valid_zones"]) for v in rt["after_rebind"].values()} == {
        ("offline", "Normal Movable")}
    assert rt["online_movable_all_errnos"] == ["0"]
    assert {(v["state"], v["valid_zones"]) for v in rt["after_online"].values()} == {
        ("online", "Movable")}


def test_kmem_unbind_with_online_blocks_strands_device(probe, single):
    st = probe["observed"]["stranded"]
    assert _errno(probe, "kmem_unbind_blocks_online") == 0  # "succeeds"
    assert st["driver_after"] is None  # driver link gone...
    assert st["blocks_after"] == KMEM_BLOCKS  # ...but all 30 blocks stay
    assert st["states_after"] == ["online"]
    assert any("cannot be hotremoved until the next reboot" in ln for ln in st["dmesg"])
    assert any("0x108000000-0x1f7ffffff" in ln for ln in st["dmesg"])
    # neither driver can take the device back
    assert _errno(probe, "device_dax_bind_stranded") == "EBUSY"
    assert _errno(probe, "kmem_bind_stranded") == "EBUSY"
    assert st["driver_final"] is None
    assert any("could not reserve range" in ln for ln in st["dmesg_after_binds"])
    assert "    108000000-1f7ffffff : System RAM (kmem)" in st["iomem"]
    # daxctl now calls it a disabled devdax device; lsmem still shows the RAM
    [dev] = single.json("daxctl-list-stranded")
    assert dev["mode"] == "devdax" and dev["state"] == "disabled"
    [n1] = [m for m in single.json("lsmem-stranded")["memory"] if m["node"] == 1]
    assert n1["block"] == "33-62" and n1["state"] == "online"


# --------------------------------------------------------------------------
# sysfs captures


@pytest.fixture(scope="module")
def captures(single_run, tmp_path_factory, vm_kernel):
    """Unpack the stage captures.  With PMEMCTL_VM_RECAPTURE=1 they replace
    tests/vm/captured/<stage>/ (and write-semantics.json); else go to tmp.
    The committed captures are 6.1's (the simulator's agreement tier reads
    them): other kernels' go to tmp."""
    recapture = os.environ.get("PMEMCTL_VM_RECAPTURE") == "1" and vm_kernel == "6.1"
    base = HERE / "captured" if recapture else tmp_path_factory.mktemp("captured")
    out = {}
    for stage in STAGES:
        tar = single_run.files.get(f"capture/{stage}.tar")
        assert tar, f"no capture for stage {stage}\n{single_run.describe()}"
        out[stage] = harness.unpack_capture(tar, base / stage)
    if recapture:
        (base / "write-semantics.json").write_bytes(single_run.files["out/probe.json"])
    return out


def _meta(root: Path) -> dict:
    return json.loads((root / "_capture.json").read_text())


def test_capture_layout(captures, vm_ready):
    for stage, root in captures.items():
        meta = _meta(root)
        assert meta["stage"] == stage and meta["kernel"] == vm_ready.kernel_version
        for p in ("sys/devices/system/memory/block_size_bytes", "proc/iomem",
                  "proc/cmdline", "proc/meminfo", "sys/kernel/mm/numa/demotion_enabled",
                  "sys/module/memory_hotplug/parameters/online_policy",
                  f"sys/{BUS_PATH}/provider", "tools/lsmem.out", "tools/rc.json"):
            assert (root / p).is_file(), (stage, p)
        assert "memhp_default_state=offline" in (root / "proc/cmdline").read_text()
        rcs = json.loads((root / "tools/rc.json").read_text())
        assert set(rcs.values()) == {0}, rcs
        # no power/ dirs, no uevent files
        assert not list(root.rglob("uevent"))
        assert not [p for p in root.rglob("power") if p.is_dir() and not p.is_symlink()]
        # boot DRAM blocks: the first four kept, the rest summarised
        for i in range(4):
            assert (root / f"sys/devices/system/memory/memory{i}").is_dir()
        assert sorted(meta["skipped_memory_blocks"], key=lambda n: int(n[6:])) == [
            f"memory{i}" for i in range(4, 16)]
        # sysfs symlinks are kept as (relative) symlinks
        link = root / "sys/bus/nd/devices/region0"
        assert link.is_symlink()
        assert os.readlink(link) == f"../../../{BUS_PATH}/region0"
        # modes are kept on disk and recorded for git
        bind = root / "sys/bus/nd/drivers/nd_region/bind"
        assert stat.S_IMODE(bind.lstat().st_mode) == 0o200
        assert meta["modes"]["sys/bus/nd/drivers/nd_region/bind"] == "0200"
        assert meta["errors"]["sys/bus/nd/drivers/nd_region/bind"] == "EACCES"
        res = f"sys/{BUS_PATH}/region0/resource"
        assert meta["modes"][res] == "0400"
        assert (root / res).read_text().strip() == "0x100000000"


def test_capture_stage_contents(captures, vm_profile):
    raw, devdax, sysram = (captures[s] for s in STAGES)
    # raw: namespace0.0 raw, seeds present, dax bus empty, node1 absent
    region = raw / f"sys/{BUS_PATH}/region0"
    assert (region / "namespace0.0/mode").read_text().strip() == "raw"
    for seed in ("btt0.0", "pfn0.0", "dax0.0"):
        assert (region / seed).is_dir()
    assert "sys/bus/dax/devices" in _meta(raw)["empty_dirs"]
    assert not (raw / "sys/devices/system/node/node1").exists()
    # devdax: bound to device_dax, nested dax0.0/dax0.0, chardev link
    daxdev = devdax / f"sys/{BUS_PATH}/region0/dax0.0/dax0.0"
    assert os.readlink(daxdev / "driver") == "../../../../../../../../bus/dax/drivers/device_dax"
    assert os.readlink(devdax / "sys/bus/dax/devices/dax0.0") == (
        f"../../../{BUS_PATH}/region0/dax0.0/dax0.0")
    assert (daxdev / "resource").read_text().strip() == "0x104000000"
    major_minor = (daxdev / "dev").read_text().strip()
    assert os.path.islink(devdax / "sys/dev/char" / major_minor)
    assert (devdax / f"sys/{BUS_PATH}/region0/dax_seed").read_text().strip() == "dax0.1"
    assert "  104000000-1f7ffffff : dax0.0" in (devdax / "proc/iomem").read_text()
    # system-ram: kmem, 30 blocks, node1 links, tiers
    daxdev = sysram / f"sys/{BUS_PATH}/region0/dax0.0/dax0.0"
    assert os.readlink(daxdev / "driver").endswith("/bus/dax/drivers/kmem")
    assert (sysram / "sys/bus/dax/drivers/kmem/dax0.0").is_symlink()
    mem = sysram / "sys/devices/system/memory"
    for i, name in enumerate(KMEM_BLOCKS, start=33):
        b = mem / name
        assert (b / "state").read_text() == "online\n"
        assert (b / "valid_zones").read_text() == "Movable\n"
        assert (b / "removable").read_text() == "1\n"
        assert (b / "online").read_text() == "1\n"
        assert (b / "phys_index").read_text() == f"{i:08x}\n"  # zero-padded hex
        assert os.readlink(b / "node1") == "../../node/node1"
        assert os.readlink(sysram / f"sys/devices/system/node/node1/{name}") == (
            f"../../memory/{name}")
    assert not (mem / "memory32").exists() and not (mem / "memory63").exists()
    tiers = sysram / "sys/devices/virtual/memory_tiering"
    assert (tiers / f"memory_tier{kmem_tier(vm_profile, harness.NvdimmSpec())}/nodelist").read_text() == "1\n"
    assert (tiers / "memory_tier4/nodelist").read_text() == "0\n"
    assert (sysram / "sys/devices/system/node/node1/access0/initiators/read_latency"
            ).read_text() == "300\n"  # NvdimmSpec default


@pytest.mark.skipif(not shutil.which("lsmem"), reason="lsmem not installed on the host")
def test_capture_replays_with_host_lsmem(captures):
    """The captured tree is faithful enough for the real lsmem (--sysroot)."""
    root = captures["system-ram"]
    guest = json.loads((root / "tools/lsmem.out").read_text())["memory"]
    r = subprocess.run(
        ["lsmem", "--sysroot", str(root), "-J", "-o",
         "RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES"],
        capture_output=True, text=True, check=True,
    )
    host = json.loads(r.stdout)["memory"]
    assert [m for m in host if m["node"] == 1] == [m for m in guest if m["node"] == 1]


# --------------------------------------------------------------------------
# two NVDIMMs, two memory-only nodes, different HMAT figures


def test_dual_nodes_hmat_figures(dual):
    f = dual.facts("hmat")
    spec = {n.node: n for n in DUAL_NVDIMMS}
    for node in (1, 2):
        base = f"{NODE}/node{node}/access0/initiators"
        assert f[f"{base}/read_latency"] == str(spec[node].latency_ns)
        assert f[f"{base}/write_latency"] == str(spec[node].latency_ns)
        assert f[f"{base}/read_bandwidth"] == str(spec[node].bandwidth_mbs)
        assert f[f"{base}/write_bandwidth"] == str(spec[node].bandwidth_mbs)
        assert f[f"{NODE}/node{node}/cpulist"] == ""
    assert f[f"{NODE}/node0/access0/initiators/read_latency"] == "100"
    assert f[f"{NODE}/node0/access0/initiators/read_bandwidth"] == "16384"
    assert f[f"{NODE}/online"] == "0-2"
    assert f[f"{NODE}/has_memory"] == "0-2"
    assert f[f"{NODE}/has_cpu"] == "0"
    assert f[f"{NODE}/node1/distance"] == "20 10 20"
    assert f[f"{NODE}/node2/distance"] == "20 20 10"
    assert f["/sys/bus/dax/devices/dax0.0/target_node"] == "1"
    assert f["/sys/bus/dax/devices/dax1.0/target_node"] == "2"
    # before conversion only node 0 had access classes (nodes 1-2 did not exist)
    assert dual.ok("access-devdax").split() == [
        f"{NODE}/node0/access0", f"{NODE}/node0/access1"]
    assert "node1" not in dual.ok("nodes-raw").split()
    links = dual.ok("access-links")
    assert re.search(r"node0 -> \.\./\.\./\.\./node0", links), links


def test_dual_nodes_conversion_and_tiers(dual, vm_profile):
    devs = {d["chardev"]: d for d in dual.json("daxctl-list")}
    assert devs["dax0.0"]["target_node"] == 1 and devs["dax0.0"]["total_memblocks"] == 30
    assert devs["dax1.0"]["target_node"] == 2 and devs["dax1.0"]["total_memblocks"] == 14
    assert all(d["mode"] == "system-ram" and d["movable"] for d in devs.values())
    assert "reconfigured 2 devices" in dual.err("reconfigure")
    numa = dual.ok("numactl-H")
    assert "available: 3 nodes (0-2)" in numa
    assert re.search(r"^node 2 cpus:\s*$", numa, re.M)
    # Linux 6.1 puts every kmem node in the default DAX tier (adistance 5 x
    # DRAM -> memory_tier22) whatever HMAT says; since 6.7 kmem derives each
    # node's distance from its HMAT figures (13 and 144 here on 6.12)
    expected: dict[int, list[int]] = {4: [0]}
    for nv in DUAL_NVDIMMS:
        expected.setdefault(kmem_tier(vm_profile, nv), []).append(nv.node)
    assert json.loads(dual.ok("tiers")) == {f"memory_tier{t}": format_cpulist(ns) for t, ns in expected.items()}
    if vm_profile.hmat_tiering:
        assert len(expected) == 3  # the two nodes' figures differ: two tiers
    blocks = dict(line.split(None, 1) for line in dual.ok("node-blocks").splitlines())
    assert blocks["node1"].split() == KMEM_BLOCKS
    # region1 follows region0 directly (0x1f8000000); its info block/memmap
    # reservation is 32 MiB, so dax1.0 starts at 0x1fa000000 and kmem rounds
    # up to 0x200000000: memory63 straddles and is never added.
    assert blocks["node2"].split() == [f"memory{i}" for i in range(64, 78)]
    iomem = dual.ok("iomem")
    assert "1f8000000-26fffffff : Persistent Memory" in iomem
    assert "  1f8000000-1f9ffffff : namespace1.0" in iomem
    assert "    200000000-26fffffff : System RAM (kmem)" in iomem

