"""The check before kmem lets a device go (UnbindDevice.precheck, issue 14):
one read of /proc/zoneinfo proves no block of the device online where no
populated zone spans its range; anywhere else every block's state is read,
and an online block still refuses the unbind (the kernel would strand the
memory until reboot)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Callable, Optional, Sequence

from pmemctl.model.discover import discover
from pmemctl.ops.actions.dax import UnbindDevice
from pmemctl.ops.actions.memory import OfflineBlock
from pmemctl.ops.executor import Executor
from pmemctl.ops.plan import Plan
from pmemctl.sim.kernel import SimulatedKernel
from pmemctl.sysfs.door import SysfsRoot

STATE = "/sys/devices/system/memory/memory{}/state"


class StateReads:
    """Counts the memory block states a door reads (batched or one by one)."""

    def __init__(self, door: SysfsRoot) -> None:
        self.count = 0
        read_table, read_optional = door.read_table, door.read_optional

        def counted_table(base: str, dirs: Sequence[str], attrs: Sequence[str]) -> list[list[Optional[str]]]:
            if base.endswith("/system/memory") and "state" in attrs:
                self.count += len(dirs)
            return read_table(base, dirs, attrs)

        def counted_optional(kpath: str) -> Optional[str]:
            self.count += bool(re.search(r"/memory\d+/state$", kpath))
            return read_optional(kpath)

        door.read_table = counted_table  # type: ignore[method-assign]
        door.read_optional = counted_optional  # type: ignore[method-assign]


def device_blocks(door: SysfsRoot, name: str) -> list[int]:
    dev = discover(door).dax_device(name)
    assert dev is not None and dev.blocks
    return list(dev.blocks)


def offline_all(k: SimulatedKernel, blocks: list[int]) -> None:
    for idx in blocks:
        k.write(STATE.format(idx), "offline")


def test_no_block_is_read_when_no_zone_spans_the_device(make_machine: Callable[..., SimulatedKernel]) -> None:
    k = make_machine("qemu-nvdimm", stage="system-ram")
    blocks = device_blocks(k, "dax0.0")
    offline_all(k, blocks)
    reads = StateReads(k)
    assert UnbindDevice("dax0.0", "kmem").precheck(k) is None
    assert reads.count == 0


def test_a_block_another_agent_onlined_is_found_and_refuses(make_machine: Callable[..., SimulatedKernel]) -> None:
    k = make_machine("qemu-nvdimm", stage="system-ram")
    blocks = device_blocks(k, "dax0.0")
    offline_all(k, blocks)
    middle = blocks[len(blocks) // 2]
    k.write(STATE.format(middle), "online_movable")  # a udev rule, between the offline and the unbind
    reads = StateReads(k)
    problem = UnbindDevice("dax0.0", "kmem").precheck(k)
    assert problem is not None and str(middle) in str(problem) and "strand" in str(problem)
    assert reads.count == len(blocks)


def test_the_executor_refuses_the_unbind_after_the_agent(make_machine: Callable[..., SimulatedKernel]) -> None:
    """A plan that offlines every block, then a block onlined behind its back
    before the unbind: the run stops there and kmem keeps the device."""
    k = make_machine("qemu-nvdimm", stage="system-ram")
    blocks = device_blocks(k, "dax0.0")
    last = blocks[-1]
    actions = tuple(OfflineBlock(i, "movable") for i in blocks)

    write = k.write

    def then_an_agent(kpath: str, value: str) -> None:
        write(kpath, value)
        if kpath == STATE.format(last) and value == "offline":
            write(STATE.format(blocks[0]), "online_movable")

    k.write = then_an_agent  # type: ignore[method-assign]
    plan = Plan(title="to devdax", actions=(*actions, UnbindDevice("dax0.0", "kmem")))
    out = Executor(k).apply(plan)
    assert out.status == "rolled-back" and "strand" in out.message
    after = discover(k)
    assert after.dax_device("dax0.0").driver == "kmem"  # type: ignore[union-attr]
    assert all(b.online for b in after.blocks if b.device == "dax0.0")  # the offlines undone


def test_without_spans_every_block_is_read(make_machine: Callable[..., SimulatedKernel], tmp_path: Path) -> None:
    """A kernel whose zoneinfo prints no start_pfn: nothing is inferred."""
    k = make_machine("qemu-nvdimm", stage="system-ram")
    blocks = device_blocks(k, "dax0.0")
    offline_all(k, blocks)
    k.settle()
    root = tmp_path / "copy"
    shutil.copytree(k.root, root, symlinks=True)
    zoneinfo = root / "proc" / "zoneinfo"
    text = zoneinfo.read_text()
    assert "start_pfn" in text
    zoneinfo.unlink()
    zoneinfo.write_text(re.sub(r"(?m)^\s+start_pfn:.*\n", "", text))
    door = SysfsRoot(str(root))
    reads = StateReads(door)
    assert UnbindDevice("dax0.0", "kmem").precheck(door) is None
    assert reads.count == len(blocks)
