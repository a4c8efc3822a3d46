"""The REAL ndctl/daxctl drive the simulated kernel through FUSE
(pmemctl.sim.fuse).

A materialised tree's ``sys/`` is served over FUSE; every write the tools
make reaches :class:`SimulatedKernel`, whose errno goes back to them.  The
tools run in a private mount namespace with that mount over /sys and a
private /dev.  Afterwards pmemctl's own discovery must find the state the
tools report.

Skips (with the reason) when not root, without /dev/fuse, when no FUSE
binding loads (PyPI ``mfusepy`` + Debian ``fuse3``/``libfuse3-3``); a missing
ndctl/daxctl is a failure (CI installs them).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest

from pmemctl.model.discover import discover
from pmemctl.model.records import NamespaceMode
from pmemctl.sim import layout
from pmemctl.sim.build import materialise
from pmemctl.sim.fuse import fuse_skip_reason, mount_sim_sys, run_real_tool_on_sim
from pmemctl.sim.kernel import SimulatedKernel
from pmemctl.sysfs import paths

_REASON = fuse_skip_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=f"FUSE bridge unavailable: {_REASON}")

BUS = "/sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0"
R1 = f"{BUS}/region1"
GiB = layout.GiB


def _need(*tools: str) -> None:
    # not a skip: CI installs them (.ci/run), and a bridge test that silently
    # skips there would hide a broken setup
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (apt-get install ndctl daxctl)")


def _our_mounts() -> list[str]:
    with open("/proc/self/mountinfo") as fh:
        return [line for line in fh if "pmemctl-sim" in line]


def _json(stdout: str) -> list[dict]:  # type: ignore[type-arg]
    text = stdout.strip()
    if not text:
        return []
    data = json.loads(text)
    return [data] if isinstance(data, dict) else list(data)


@pytest.fixture(autouse=True)
def _no_mount_left_behind() -> None:
    before = _our_mounts()
    yield
    assert _our_mounts() == before


# --------------------------------------------------------------------------- the filesystem itself


def test_mount_serves_the_tree_and_answers_writes(tmp_path: Path) -> None:
    tree = materialise("optane-2s", tmp_path / "t")
    mnt = tmp_path / "mnt"
    with mount_sim_sys(tree, mnt) as sysdir:
        assert _our_mounts()
        # reads, modes, links, readdir
        assert (sysdir / "devices/system/memory/block_size_bytes").read_text() == "80000000\n"
        st = os.stat(sysdir / "bus/nd/drivers/nd_pmem/bind")
        assert st.st_mode & 0o777 == 0o200
        assert os.readlink(sysdir / "bus/dax/devices/dax1.1").startswith("../../../devices/")
        assert "namespace1.2" in os.listdir(sysdir / "bus/nd/devices")
        # kernfs: no write bit -> EACCES even for root; no read bit -> EACCES
        with pytest.raises(PermissionError):
            (sysdir / "devices/system/memory/block_size_bytes").write_text("1")
        with pytest.raises(PermissionError):
            (sysdir / "bus/nd/drivers/nd_pmem/bind").read_text()
        with pytest.raises(PermissionError):
            (sysdir / "devices/new_file").write_text("x")
        # a write as ndctl makes it: O_WRONLY without O_TRUNC, trailing NUL
        kp = sysdir / "devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region1/namespace1.2/alt_name"
        fd = os.open(kp, os.O_WRONLY)
        try:
            assert os.write(fd, b"scratch\0") == 8
        finally:
            os.close(fd)
        assert kp.read_text() == "scratch\n"
        # the kernel's errno comes back to the writer, and shell-style O_TRUNC works
        with pytest.raises(OSError) as info:
            (sysdir / "devices/system/memory/auto_online_blocks").write_text("garbage\n")
        assert info.value.errno == errno.EINVAL
        (sysdir / "devices/system/memory/auto_online_blocks").write_text("online_movable\n")
        assert (sysdir / "devices/system/memory/auto_online_blocks").read_text() == "online_movable\n"
        # kernel reactions create files and links: visible at once (no caching)
        size = sysdir / "devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region1/namespace1.2/size"
        with pytest.raises(OSError) as info:
            size.write_text("0x300000000\n")
        assert info.value.errno == errno.ENXIO  # no uuid yet
        assert not (size.parent / "resource").exists()
    assert not _our_mounts()
    assert (tree / "sys/devices/system/memory/auto_online_blocks").read_text() == "online_movable\n"


# --------------------------------------------------------------------------- daxctl


def test_daxctl_reconfigure_system_ram_and_back(tmp_path: Path) -> None:
    _need("daxctl")
    tree = materialise("qemu-nvdimm", tmp_path / "t", {"stage": "devdax"})
    res = run_real_tool_on_sim(tree, ["daxctl", "reconfigure-device", "--mode=system-ram", "dax0.0"])
    assert res.returncode == 0, res.stderr
    out = _json(res.stdout)[0]
    assert out["mode"] == "system-ram" and out["online_memblocks"] == 30 and out["total_memblocks"] == 30

    topo = discover(SimulatedKernel(tree))
    dev = next(d for d in topo.dax_devices if d.name == "dax0.0")
    assert dev.driver == "kmem" and len(dev.blocks) == 30
    blocks = [b for b in topo.blocks if b.device == "dax0.0"]
    assert all(b.state.value == "online" and b.zones == ("Movable",) for b in blocks)
    node1 = next(n for n in topo.nodes if n.id == 1)
    assert node1.mem_total == 30 * 128 * 1024 * 1024

    res = run_real_tool_on_sim(tree, ["daxctl", "reconfigure-device", "--mode=devdax", "-f", "dax0.0"])
    assert res.returncode == 0, res.stderr
    assert _json(res.stdout)[0]["mode"] == "devdax"
    topo = discover(SimulatedKernel(tree))
    dev = next(d for d in topo.dax_devices if d.name == "dax0.0")
    assert dev.driver == "device_dax" and dev.blocks == ()
    assert not any(b.device == "dax0.0" for b in topo.blocks)
    assert 1 not in [n.id for n in topo.nodes]  # node 1 went offline with its memory


# --------------------------------------------------------------------------- ndctl


def test_ndctl_create_and_destroy_devdax_namespace(tmp_path: Path) -> None:
    _need("ndctl", "daxctl")
    tree = materialise("optane-2s", tmp_path / "t")
    k = SimulatedKernel(tree)
    free_before = int(k.read(f"{R1}/available_size"))

    # region1 interleaves 3 DIMMs: its align is 48 MiB, so 12G (not 8G) is a legal size
    res = run_real_tool_on_sim(tree, ["ndctl", "create-namespace", "-r", "region1", "-m", "devdax", "-s", "12G"])
    assert res.returncode == 0, res.stderr
    out = _json(res.stdout)[0]
    assert out["dev"] == "namespace1.2" and out["mode"] == "devdax"
    devices = out["daxregion"]["devices"]
    assert [d["chardev"] for d in devices] == ["dax1.2"] and devices[0]["mode"] == "devdax"

    topo = discover(SimulatedKernel(tree))
    ns = next(n for n in topo.namespaces if n.name == "namespace1.2")
    assert ns.mode == NamespaceMode.DEVDAX and ns.enabled and ns.size == 12 * GiB
    assert ns.usable_size == out["size"] == layout.pfn_usable_size(ns.resource or 0, 12 * GiB, 2 * 1024 * 1024)
    assert ns.holder_uuid == out["uuid"] and ns.dax_device == "dax1.2"
    dev = next(d for d in topo.dax_devices if d.name == "dax1.2")
    assert dev.driver == "device_dax" and dev.namespace == "namespace1.2" and dev.target_node == 3
    region = next(r for r in topo.regions if r.name == "region1")
    assert region.available_size == free_before - 12 * GiB
    assert region.namespace_seed == "namespace1.3" and region.dax_seed == "dax1.2"

    # the tools see it too
    listed = _json(run_real_tool_on_sim(tree, ["daxctl", "list", "-d", "dax1.2"]).stdout)
    assert listed and listed[0]["chardev"] == "dax1.2"

    res = run_real_tool_on_sim(tree, ["ndctl", "destroy-namespace", "-f", "namespace1.2"])
    assert res.returncode == 0, res.stderr
    assert "destroyed 1 namespace" in res.stderr
    topo = discover(SimulatedKernel(tree))
    assert "namespace1.2" not in [n.name for n in topo.namespaces]
    assert "dax1.2" not in [d.name for d in topo.dax_devices]
    region = next(r for r in topo.regions if r.name == "region1")
    assert region.available_size == free_before and region.max_available_extent == free_before


def test_ndctl_refuses_a_size_misaligned_to_the_interleave(tmp_path: Path) -> None:
    """kernel-abi.md §3.2: on a 3-way interleaved region (align 48 MiB) ndctl
    itself rejects -s 8G before writing anything (EINVAL, exit 234)."""
    _need("ndctl")
    tree = materialise("optane-2s", tmp_path / "t")
    res = run_real_tool_on_sim(tree, ["ndctl", "create-namespace", "-r", "region1", "-m", "devdax", "-s", "8G"])
    assert res.returncode == 256 - errno.EINVAL
    assert "misaligned" in res.stderr
    assert SimulatedKernel(tree).read(f"{R1}/namespace1.2/uuid") == ""


@pytest.mark.parametrize("mode, blockdev", [("fsdax", "pmem1.2"), ("sector", "pmem1.2s"), ("raw", "pmem1.2")])
def test_ndctl_creates_block_namespaces(tmp_path: Path, mode: str, blockdev: str) -> None:
    _need("ndctl")
    tree = materialise("optane-2s", tmp_path / "t")
    res = run_real_tool_on_sim(tree, ["ndctl", "create-namespace", "-r", "region1", "-m", mode, "-s", "12G"])
    assert res.returncode == 0, res.stderr
    out = _json(res.stdout)[0]
    assert out["mode"] == mode and out["blockdev"] == blockdev
    ns = next(n for n in discover(SimulatedKernel(tree)).namespaces if n.name == "namespace1.2")
    assert ns.mode.value == mode and ns.blockdev == blockdev and ns.enabled
    res = run_real_tool_on_sim(tree, ["ndctl", "destroy-namespace", "-f", "namespace1.2"])
    assert res.returncode == 0, res.stderr
    assert "namespace1.2" not in [n.name for n in discover(SimulatedKernel(tree)).namespaces]


def test_ndctl_reconfigures_the_label_less_qemu_namespace(tmp_path: Path) -> None:
    """real-kernel-lab.md: `ndctl create-namespace -f -e namespace0.0 -m devdax
    --align 2M` then `daxctl reconfigure-device --mode=system-ram dax0.0`.

    --no-autolabel: the bridge cannot answer label ioctls on /dev/nmem0, so
    ndctl's attempt to initialise labels fails, and the region re-enable it
    does afterwards activates namespace0.0 raw again (as the kernel does),
    leaving no idle namespace to configure."""
    _need("ndctl", "daxctl")
    tree = materialise("qemu-nvdimm", tmp_path / "t", {"stage": "raw"})
    res = run_real_tool_on_sim(
        tree,
        ["ndctl", "create-namespace", "-f", "-e", "namespace0.0", "-m", "devdax", "--align", "2M", "--no-autolabel"],
    )
    assert res.returncode == 0, res.stderr
    assert _json(res.stdout)[0]["size"] == 4_093_640_704
    res = run_real_tool_on_sim(tree, ["daxctl", "reconfigure-device", "--mode=system-ram", "dax0.0"])
    assert res.returncode == 0, res.stderr
    topo = discover(SimulatedKernel(tree))
    dev = next(d for d in topo.dax_devices if d.name == "dax0.0")
    assert dev.driver == "kmem" and dev.resource == 0x104000000
    assert dev.blocks == tuple(range(33, 63))
    # a devdax namespace whose memory is online cannot be disabled
    res = run_real_tool_on_sim(tree, ["ndctl", "disable-namespace", "namespace0.0"])
    assert res.returncode == 256 - errno.EBUSY
    assert SimulatedKernel(tree).exists(f"{paths.DAX_DEVICES}/dax0.0")


def test_ndctl_disable_enable_and_region_cycle_keep_the_modes(tmp_path: Path) -> None:
    """ndctl releases claims on disable; the kernel finds the info blocks again."""
    _need("ndctl")
    tree = materialise("optane-2s", tmp_path / "t")

    def modes() -> dict[str, str]:
        return {n.name: n.mode.value for n in discover(SimulatedKernel(tree)).namespaces
                if n.region == "region1" and n.size}

    before = modes()
    assert before == {"namespace1.0": "sector", "namespace1.1": "devdax"}
    for cmd in (["ndctl", "disable-namespace", "namespace1.1"], ["ndctl", "enable-namespace", "namespace1.1"],
                ["ndctl", "disable-region", "region1"], ["ndctl", "enable-region", "region1"]):
        res = run_real_tool_on_sim(tree, cmd)
        assert res.returncode == 0, (cmd, res.stderr)
    assert modes() == before
    enabled = {n.name for n in discover(SimulatedKernel(tree)).namespaces if n.region == "region1" and n.enabled}
    assert enabled == {"namespace1.0", "namespace1.1"}


def test_destroy_zeroes_the_info_block_of_a_label_less_namespace(tmp_path: Path) -> None:
    """destroy-namespace on qemu's io namespace: ndctl zeroes the info block
    through /dev/pmem0 (the bridge's stand-in); enabling it again gives raw.
    The label-less devdax state is reached as on a guest whose labels ndctl
    may not initialise (--no-autolabel); the shipped devdax stage is the
    labelled state ndctl's autolabel leaves (see the next test)."""
    _need("ndctl")
    tree = materialise("qemu-nvdimm", tmp_path / "t", {"stage": "raw"})
    res = run_real_tool_on_sim(
        tree,
        ["ndctl", "create-namespace", "-f", "-e", "namespace0.0", "-m", "devdax", "--align", "2M", "--no-autolabel"],
    )
    assert res.returncode == 0, res.stderr
    res = run_real_tool_on_sim(tree, ["ndctl", "destroy-namespace", "-f", "namespace0.0"])
    assert res.returncode == 0, res.stderr
    assert "destroyed 1 namespace" in res.stderr
    res = run_real_tool_on_sim(tree, ["ndctl", "enable-namespace", "namespace0.0"])
    assert res.returncode == 0, res.stderr
    ns = next(n for n in discover(SimulatedKernel(tree)).namespaces if n.name == "namespace0.0")
    assert ns.mode == NamespaceMode.RAW and ns.enabled and ns.blockdev == "pmem0"


def test_destroy_frees_the_labelled_qemu_namespace(tmp_path: Path) -> None:
    """On the labelled devdax stage (what ndctl's autolabel left on the real
    guest) destroy-namespace deletes the namespace: its label and space are
    freed (size 0, available_size and available_slots back to the booted
    figures), so there is nothing left to enable."""
    _need("ndctl")
    tree = materialise("qemu-nvdimm", tmp_path / "t", {"stage": "devdax"})
    k = SimulatedKernel(tree)
    bus = "/sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0"
    assert k.read(f"{bus}/nmem0/available_slots") == "508"
    res = run_real_tool_on_sim(tree, ["ndctl", "destroy-namespace", "-f", "namespace0.0"])
    assert res.returncode == 0, res.stderr
    assert "destroyed 1 namespace" in res.stderr
    k = SimulatedKernel(tree)
    assert k.read(f"{bus}/region0/namespace0.0/size") == "0"
    assert k.read(f"{bus}/region0/available_size") == "4160749568"
    assert k.read(f"{bus}/nmem0/available_slots") == "509"
    res = run_real_tool_on_sim(tree, ["ndctl", "enable-namespace", "namespace0.0"])
    assert res.returncode != 0
