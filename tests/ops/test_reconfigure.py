"""reconfigure on the simulated kernel: each action, its inverse, and faults."""

from __future__ import annotations

import errno

import pytest

from pmemctl.errors import ExitCode
from pmemctl.model.discover import discover
from pmemctl.model.records import DaxMode
from pmemctl.ops.executor import ApplyOptions, Executor
from pmemctl.ops.plan.combined import plan_reconfigure
from pmemctl.ops.requests import ReconfigureRequest
from pmemctl.sim.kernel import faults


def reconfigure(k, selector, mode, *, zone="movable", online=True, force=False, opts=None):
    topo = discover(k)
    plan = plan_reconfigure(k, topo, ReconfigureRequest(selector, mode, zone, online, force))
    return plan, Executor(k, opts or ApplyOptions(offline_timeout=2, wait_timeout=2))


def state(k):
    topo = discover(k)
    return topo, {d.name: d for d in topo.dax_devices}


def test_devdax_to_system_ram_movable_and_back(make_machine):
    k = make_machine("qemu-nvdimm", stage="devdax")
    plan, ex = reconfigure(k, "dax0.0", "system-ram")
    # The exact kernel sequence (kernel-abi.md §4.3), then 30 block onlines.
    assert plan.shell_lines()[:4] == [
        "echo dax0.0 > /sys/bus/dax/drivers/device_dax/remove_id",
        "echo dax0.0 > /sys/bus/dax/drivers/device_dax/unbind",
        "echo dax0.0 > /sys/bus/dax/drivers/kmem/new_id",
        "echo dax0.0 > /sys/bus/dax/drivers/kmem/bind",
    ]
    assert plan.shell_lines()[4] == "echo online_movable > /sys/devices/system/memory/memory33/state"
    assert len(plan.shell_lines()) == 4 + 30
    assert plan.destructive
    out = ex.apply(plan)
    assert out.status == "changed" and out.exit_code == ExitCode.OK
    topo, devs = state(k)
    dev = devs["dax0.0"]
    assert dev.mode == DaxMode.SYSTEM_RAM
    assert dev.blocks == tuple(range(33, 63))
    blocks = [b for b in topo.blocks if b.device == "dax0.0"]
    assert all(b.online and b.zones == ("Movable",) and b.node == 1 for b in blocks)
    node1 = topo.node(1)
    assert node1 is not None and node1.mem_total == 3932160 * 1024
    assert node1.memory_tier == 22 and node1.distances == {0: 20, 1: 10}
    assert node1.has_memory and not node1.has_normal_memory
    assert "System RAM (kmem)" in k.read("/proc/iomem")

    plan, ex = reconfigure(k, "dax0.0", "devdax")
    assert plan.shell_lines()[0] == "echo offline > /sys/devices/system/memory/memory62/state"
    out = ex.apply(plan)
    assert out.status == "changed", out.message
    topo, devs = state(k)
    assert devs["dax0.0"].mode == DaxMode.DEVDAX
    assert not [b for b in topo.blocks if b.index >= 33]  # blocks removed
    assert topo.node(1) is None  # memory-only node went offline again
    assert [t.id for t in topo.tiers] == [4]
    assert "System RAM (kmem)" not in k.read("/proc/iomem")


def test_no_online_and_normal_zone(make_machine):
    k = make_machine("qemu-nvdimm", stage="devdax")
    plan, ex = reconfigure(k, "dax0.0", "system-ram", online=False)
    assert ex.apply(plan).status == "changed"
    topo, devs = state(k)
    assert all(not b.online for b in topo.blocks if b.device == "dax0.0")
    plan, ex = reconfigure(k, "dax0.0", "system-ram", zone="normal")
    assert plan.shell_lines()[0] == "echo online_kernel > /sys/devices/system/memory/memory33/state"
    assert ex.apply(plan).status == "changed"
    topo, _ = state(k)
    assert {b.zones for b in topo.blocks if b.device == "dax0.0"} == {("Normal",)}
    assert topo.node(1).has_normal_memory


def test_already_in_mode_is_no_change(make_machine):
    k = make_machine("qemu-nvdimm", stage="system-ram")
    plan, ex = reconfigure(k, "dax0.0", "system-ram")
    assert plan.is_noop and plan.already
    out = ex.apply(plan)
    assert out.status == "no-change" and out.exit_code == ExitCode.NO_CHANGE


def test_select_by_namespace_uuid_name_and_address(make_machine):
    k = make_machine("qemu-nvdimm", stage="devdax")
    topo = discover(k)
    ns = topo.namespace("namespace0.0")
    for sel in ("namespace0.0", ns.holder_uuid, "0x108000000", "0x104000000-0x1f7ffffff", "0.0", "/dev/dax0.0"):
        if sel is None:
            continue
        plan = plan_reconfigure(k, topo, ReconfigureRequest(sel, "system-ram"))
        assert plan.targets == ("dax0.0",), sel


def test_bind_failure_rolls_back_to_device_dax(make_machine):
    k = make_machine("qemu-nvdimm", stage="devdax")
    faults.inject(k.root, "bind-fail", driver="kmem", device="dax0.0", errno="ENXIO")
    plan, ex = reconfigure(k, "dax0.0", "system-ram")
    out = ex.apply(plan)
    assert out.status == "rolled-back" and out.exit_code == ExitCode.ROLLED_BACK
    assert "kmem" in out.message
    _, devs = state(k)
    assert devs["dax0.0"].driver == "device_dax"  # never left without a driver
    assert any("bound to device_dax" in line for line in out.machine_state)
    assert ex.journal.load() is None  # consistent again: no journal left


def test_offline_busy_rolls_back_and_reonlines(make_machine):
    k = make_machine("qemu-nvdimm", stage="system-ram")
    faults.inject(k.root, "offline-busy", blocks=[40])
    plan, ex = reconfigure(k, "dax0.0", "devdax")
    out = ex.apply(plan)
    assert out.status == "rolled-back"
    assert "memory block 40" in out.message and "EBUSY" in out.message
    topo, devs = state(k)
    assert devs["dax0.0"].driver == "kmem"
    blocks = [b for b in topo.blocks if b.device == "dax0.0"]
    assert len(blocks) == 30 and all(b.online and b.zones == ("Movable",) for b in blocks)


def test_offline_hang_is_bounded(make_machine):
    k = make_machine("qemu-nvdimm", stage="system-ram")
    faults.inject(k.root, "offline-hang", blocks=[62])
    plan, ex = reconfigure(k, "dax0.0", "devdax", opts=ApplyOptions(offline_timeout=0.3, wait_timeout=2))
    out = ex.apply(plan)
    assert out.status == "failed"  # the very first step failed: nothing to undo
    assert "did not finish within 0.3 s" in out.message
    topo, devs = state(k)
    assert devs["dax0.0"].driver == "kmem"
    assert all(b.online for b in topo.blocks if b.device == "dax0.0")


def test_udev_race_is_detected_and_undone(make_machine):
    k = make_machine("qemu-nvdimm", stage="devdax")
    faults.inject(k.root, "udev-race", zone="Normal")
    plan, ex = reconfigure(k, "dax0.0", "system-ram", force=True)
    out = ex.apply(plan)
    assert out.status == "rolled-back"
    assert "Normal" in out.message and "another agent" in out.message
    topo, devs = state(k)
    assert devs["dax0.0"].driver == "device_dax"
    assert not [b for b in topo.blocks if b.index >= 33]


def test_device_vanishing_mid_run_is_reported(make_machine):
    k = make_machine("qemu-nvdimm", stage="devdax")
    faults.inject(k.root, "vanish", device="dax0.0", after_writes=2)
    plan, ex = reconfigure(k, "dax0.0", "system-ram")
    out = ex.apply(plan)
    assert out.status in ("rolled-back", "rollback-incomplete")
    assert any("disappeared" in line for line in out.machine_state)


def test_mapped_device_is_refused(make_machine):
    import json
    import os

    k = make_machine("qemu-nvdimm", stage="devdax")
    with open(os.path.join(k.marker, "holders.json"), "w") as fh:
        json.dump([{"pid": 4242, "name": "redis-server", "path": "/dev/dax0.0"}], fh)
    plan, _ = reconfigure(k, "dax0.0", "system-ram")
    blocking = plan.blocking(set())
    assert [c.name for c in blocking] == ["dax-in-use"]
    assert "redis-server (pid 4242)" in blocking[0].message
    assert not plan.blocking({"--force"})


def test_auto_online_policy_is_refused_without_force(make_machine):
    k = make_machine("qemu-nvdimm", stage="devdax")
    k.write("/sys/devices/system/memory/auto_online_blocks", "online")
    plan, ex = reconfigure(k, "dax0.0", "system-ram")
    assert [c.name for c in plan.blocking(set())] == ["onlining-agent"]
    # --force: proceed; the kernel onlines the blocks itself (zone chosen by
    # policy = Normal for a fresh node), and the zone verification catches it.
    out = ex.apply(plan)
    assert out.status == "rolled-back"
    _, devs = state(k)
    assert devs["dax0.0"].driver == "device_dax"


def test_udev_rule_is_detected(make_machine, tmp_path):
    import os

    k = make_machine("qemu-nvdimm", stage="devdax")
    rules = os.path.join(k.root, "etc/udev/rules.d")
    os.makedirs(rules)
    with open(os.path.join(rules, "40-memory.rules"), "w") as fh:
        fh.write('SUBSYSTEM=="memory", ACTION=="add", ATTR{state}=="offline", ATTR{state}="online"\n')
    plan, _ = reconfigure(k, "dax0.0", "system-ram")
    msgs = [c.message for c in plan.blocking(set())]
    assert any("40-memory.rules" in m for m in msgs)


def test_zone_normal_offline_is_refused(make_machine):
    k = make_machine("qemu-nvdimm", stage="devdax")
    plan, ex = reconfigure(k, "dax0.0", "system-ram", zone="normal")
    ex.apply(plan)
    plan, _ = reconfigure(k, "dax0.0", "devdax")
    assert [c.name for c in plan.blocking(set())] == ["zone-normal"]
    assert "reboot" in plan.blocking(set())[0].message


def test_stranded_kmem_unbind_is_never_done(make_machine):
    """The executor refuses to unbind kmem while blocks are online, even if a
    plan says so: the kernel would strand the memory until reboot."""
    from pmemctl.ops.actions.dax import UnbindDevice
    from pmemctl.ops.plan import Plan

    k = make_machine("qemu-nvdimm", stage="system-ram")
    out = Executor(k).apply(Plan(title="bad", actions=(UnbindDevice("dax0.0", "kmem"),)))
    assert out.status == "failed" and "strand" in out.message
    _, devs = state(k)
    assert devs["dax0.0"].driver == "kmem"


def test_kernel_strands_device_when_unbound_with_online_memory(make_machine):
    """The simulated kernel reproduces the real one (real-kernel-lab.md)."""
    from pmemctl.errors import KernelError

    k = make_machine("qemu-nvdimm", stage="system-ram")
    k.write("/sys/bus/dax/drivers/kmem/unbind", "dax0.0")
    _, devs = state(k)
    assert devs["dax0.0"].driver is None
    assert k.exists("/sys/devices/system/memory/memory33")
    for drv in ("device_dax", "kmem"):
        with pytest.raises(KernelError) as exc:
            k.write(f"/sys/bus/dax/drivers/{drv}/bind", "dax0.0")
        assert exc.value.errno == errno.EBUSY


def test_reconfigure_all_partial(make_machine):
    k = make_machine("optane-2s")
    faults.inject(k.root, "bind-fail", driver="kmem", device="dax1.1")
    topo = discover(k)
    plan = plan_reconfigure(k, topo, ReconfigureRequest("all", "system-ram", force=True))
    assert plan.destructive
    out = Executor(k, ApplyOptions(wait_timeout=2)).apply(plan)
    assert out.status == "partial" and out.exit_code == ExitCode.PARTIAL
    assert out.failed_units == ["dax1.1"] and out.changed_units == ["dax0.1"]
    _, devs = state(k)
    assert devs["dax1.1"].driver == "device_dax"
    assert devs["dax0.1"].driver == "kmem"


def test_hmat_access_is_not_registered_again_after_the_node_returns(make_machine):
    """Linux 6.1 registers a node's HMAT access classes once: after the node
    went offline and came back, nodeN/access0 is gone (seen on the real kernel)."""
    k = make_machine("qemu-nvdimm", stage="devdax")
    access_after = []
    for mode in ("system-ram", "devdax", "system-ram"):
        plan, ex = reconfigure(k, "dax0.0", mode)
        assert ex.apply(plan).status == "changed"
        node = discover(k).node(1)
        access_after.append(None if node is None else node.access0 is not None)
    assert access_after == [True, None, False]
