"""The simulated kernel's own writes stay inside its tree, and are whole
(issue 16, items 3 and 14).

The door refuses attribute writes that leave the sysroot; these are the
writes the simulated kernel makes in answer (meminfo, valid_zones of other
blocks, hot-added and removed blocks, its state files), which followed
planted links before: a ``proc/meminfo`` link replaced the outside file and
made it 0444, a linked ``sys/devices/system/memory`` had 30 outside
directories deleted by a devdax reconfigure.
"""

from __future__ import annotations

import hashlib
import os
import signal
import stat
from pathlib import Path

import pytest

from pmemctl.errors import OutsideSysroot
from pmemctl.sim.build import materialise
from pmemctl.sim.kernel import SimulatedKernel
from pmemctl.sim.kernel.confined import ConfinedTreeWriter
from pmemctl.sim.scenario import load_scenario
from pmemctl.sysfs import paths


def digest(top: Path) -> str:
    """Names, modes and contents of everything under ``top`` (links not followed)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(top)):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            h.update(f"{os.path.relpath(p, top)} {st.st_mode:o}\n".encode())
            if stat.S_ISREG(st.st_mode):
                h.update(Path(p).read_bytes())
    return h.hexdigest()


@pytest.fixture
def machine(tmp_path):
    def make(stage="system-ram"):
        root = tmp_path / f"tree-{stage}"
        materialise(load_scenario("qemu-nvdimm", {"stage": stage}), root)
        return root
    return make


@pytest.fixture
def outside(tmp_path):
    out = tmp_path / "outside"
    out.mkdir()
    secret = out / "secret"
    secret.write_text("SECRET-TOKEN-123\n")
    secret.chmod(0o600)
    return out


def state_of(root: Path, index: int) -> str:
    return (root / f"sys/devices/system/memory/memory{index}/state").read_text().strip()


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_a_linked_proc_meminfo_is_refused_before_anything_changes(machine, outside, relative):
    root = machine()
    meminfo = root / "proc/meminfo"
    meminfo.unlink()
    target = outside / "secret"
    meminfo.symlink_to(os.path.relpath(target, meminfo.parent) if relative else target)
    before = digest(outside)
    k = SimulatedKernel(root)
    with pytest.raises(OutsideSysroot) as exc:
        k.write(f"{paths.memory_block(62)}/state", "offline")
    assert "proc/meminfo" in exc.value.sentence()
    assert digest(outside) == before  # neither replaced nor made 0444
    assert state_of(root, 62) == "online"  # refused before the simulated kernel changed anything


def test_a_linked_memory_directory_is_not_emptied_by_a_kmem_unbind(machine, outside):
    root = machine()
    k = SimulatedKernel(root)
    for i in range(33, 63):  # every block of dax0.0 offline: kmem may go
        k.write(f"{paths.memory_block(i)}/state", "offline")
    memory = root / "sys/devices/system/memory"
    memory.rename(outside / "memory")
    memory.symlink_to(outside / "memory")
    before = digest(outside)
    with pytest.raises(OutsideSysroot):
        SimulatedKernel(root).write(f"{paths.DAX_DRIVERS}/kmem/unbind", "dax0.0")
    assert digest(outside) == before  # the 30 block directories are still there
    assert (root / "sys/bus/dax/devices/dax0.0/driver").readlink().name == "kmem"


def test_a_linked_marker_directory_is_refused(machine, outside):
    root = machine()
    marker = root / ".pmemctl-sim"
    marker.rename(outside / "marker")
    marker.symlink_to(outside / "marker")
    before = digest(outside)
    with pytest.raises(OutsideSysroot):
        SimulatedKernel(root).write(f"{paths.memory_block(62)}/state", "offline")
    assert digest(outside) == before


def test_a_fifo_as_proc_meminfo_is_refused_without_hanging(machine):
    root = machine()
    (root / "proc/meminfo").unlink()
    os.mkfifo(root / "proc/meminfo")

    def hung(signum, frame):
        raise TimeoutError("the simulated kernel hung on a FIFO")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        with pytest.raises(OutsideSysroot):
            SimulatedKernel(root).write(f"{paths.memory_block(62)}/state", "offline")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert state_of(root, 62) == "online"


# -- the writer itself: every directory checked, never a link followed ------------------


def test_the_writer_refuses_a_block_directory_linked_out(machine, outside):
    root = machine()
    block = root / "sys/devices/system/memory/memory41"
    block.rename(outside / "memory41")
    block.symlink_to(outside / "memory41")
    before = digest(outside)
    tree = ConfinedTreeWriter(root)
    for act in (lambda: tree.attr(f"{paths.MEMORY}/memory41/valid_zones", "Movable"),
                lambda: tree.remove(f"{paths.MEMORY}/memory41/state"),
                lambda: tree.mkdir(f"{paths.MEMORY}/memory41/power"),
                lambda: tree.symlink(f"{paths.MEMORY}/memory41/node9", paths.node_dir(9))):
        with pytest.raises(OutsideSysroot):
            act()
    assert digest(outside) == before
    tree.remove(f"{paths.MEMORY}/memory41")  # removing the link itself removes only the link
    assert not block.exists() and digest(outside) == before


def test_the_writer_never_writes_through_a_linked_attribute(machine, outside):
    root = machine()
    attr = root / "sys/devices/system/memory/memory41/valid_zones"
    attr.unlink()
    attr.symlink_to(outside / "secret")
    with pytest.raises(OutsideSysroot):
        ConfinedTreeWriter(root).attr(f"{paths.MEMORY}/memory41/valid_zones", "Movable")
    assert (outside / "secret").read_text() == "SECRET-TOKEN-123\n"


def test_links_inside_the_tree_are_still_written_through(machine):
    """sysfs has directory links (/sys/bus/dax/devices/dax0.0 -> ../../../devices/...)."""
    root = machine()
    tree = ConfinedTreeWriter(root)
    tree.attr("/sys/bus/dax/devices/dax0.0/numa_node", 1)
    assert tree.read("/sys/bus/dax/devices/dax0.0/numa_node") == "1"


# -- item 14: writes are whole, and in an order no reader sees an impossible state ------


def test_an_attribute_is_replaced_whole_and_keeps_its_mode(machine):
    root = machine()
    tree = ConfinedTreeWriter(root)
    path = root / "sys/devices/system/memory/memory41/valid_zones"
    inode = path.stat().st_ino
    tree.attr(f"{paths.MEMORY}/memory41/valid_zones", "Normal Movable")
    assert path.read_text() == "Normal Movable\n"
    assert path.stat().st_ino != inode  # a new file renamed over the old: never seen empty or half-written
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    leftovers = [p for p in (root / ".pmemctl-sim").rglob("*") if p.is_file() and ".tmp" in p.name]
    assert leftovers == [] and not list(path.parent.glob(".*"))


@pytest.mark.parametrize("request_", ["online_movable", "offline"])
def test_a_block_change_writes_its_zone_and_state_in_a_safe_order(machine, monkeypatch, request_):
    """Killed between two writes, the block must still look like something a
    kernel shows: never online with an offline block's zone list."""
    root = machine("system-ram")
    k = SimulatedKernel(root)
    if request_ != "offline":
        k.write(f"{paths.memory_block(62)}/state", "offline")
    order: list[str] = []
    real = ConfinedTreeWriter._write_host

    def record(self, path, data, mode):
        if "/memory62/" in path:
            order.append(os.path.basename(path))
        real(self, path, data, mode)

    monkeypatch.setattr(ConfinedTreeWriter, "_write_host", record)
    SimulatedKernel(root).write(f"{paths.memory_block(62)}/state", request_)
    if request_ == "offline":
        assert order.index("state") < order.index("valid_zones")
    else:
        assert order.index("valid_zones") < order.index("state")
