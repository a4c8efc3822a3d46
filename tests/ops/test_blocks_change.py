"""online / offline by count, size and block list; journal, lock, Ctrl-C."""

from __future__ import annotations

import pytest

from pmemctl.commandline import command_line
from pmemctl.errors import ExitCode, Locked, NotFound, Refused, UsageError
from pmemctl.model.discover import discover
from pmemctl.ops.executor import ApplyOptions, Executor, Interrupted
from pmemctl.ops.plan.blocks import plan_offline, plan_online
from pmemctl.ops.plan.combined import plan_reconfigure
from pmemctl.ops.requests import BlockRequest, ReconfigureRequest
from pmemctl.sim.kernel import faults
from pmemctl.sysfs.state import RunLock


def apply(k, plan):
    return Executor(k, ApplyOptions(offline_timeout=2, wait_timeout=2)).apply(plan)


def online_blocks(k, device="dax0.0"):
    return sorted(b.index for b in discover(k).blocks if b.device == device and b.online)


@pytest.fixture
def sysram(make_machine):
    """qemu-nvdimm converted with its 30 blocks offline."""
    k = make_machine("qemu-nvdimm", stage="devdax")
    plan = plan_reconfigure(k, discover(k), ReconfigureRequest("dax0.0", "system-ram", online=False))
    assert apply(k, plan).status == "changed"
    return k


def test_online_by_count_size_and_list(sysram):
    k = sysram
    plan = plan_online(k, discover(k), BlockRequest(device="dax0.0", count=3))
    assert [a.index for a in plan.actions] == [33, 34, 35]
    assert apply(k, plan).status == "changed"
    assert online_blocks(k) == [33, 34, 35]
    plan = plan_online(k, discover(k), BlockRequest(device="dax0.0", size="300M"))
    assert len(plan.actions) == 2
    assert any("rounded down to 2 whole block(s) = 256M" in n for n in plan.notes)
    apply(k, plan)
    plan = plan_online(k, discover(k), BlockRequest(blocks="50-52,60", zone="normal"))
    assert plan.shell_lines() == [
        f"echo online_kernel > /sys/devices/system/memory/memory{i}/state" for i in (50, 51, 52, 60)
    ]
    apply(k, plan)
    assert online_blocks(k) == [33, 34, 35, 36, 37, 50, 51, 52, 60]
    zones = {b.index: b.zones for b in discover(k).blocks}
    assert zones[50] == ("Normal",) and zones[33] == ("Movable",)


def test_size_smaller_than_a_block_is_refused_with_valid_sizes(sysram):
    with pytest.raises(UsageError) as exc:
        plan_online(sysram, discover(sysram), BlockRequest(device="dax0.0", size="100M"))
    assert "128M" in exc.value.sentence() and "256M" in exc.value.sentence()


@pytest.mark.parametrize(
    "req,exc",
    [
        (BlockRequest(device="dax0.0", count=3, size="1G"), UsageError),
        (BlockRequest(device="dax0.0", count=0), UsageError),
        (BlockRequest(device="dax0.0", count=31), Refused),
        (BlockRequest(device="dax9.9", count=1), NotFound),
        (BlockRequest(blocks="33-x"), UsageError),
        (BlockRequest(blocks="999"), NotFound),
        (BlockRequest(device="dax0.0", blocks="5"), UsageError),
        (BlockRequest(device="dax0.0", size="lots"), UsageError),
        (BlockRequest(), UsageError),
    ],
)
def test_bad_block_requests_change_nothing(sysram, req, exc):
    before = sysram.read("/proc/meminfo")
    with pytest.raises(exc):
        plan_online(sysram, discover(sysram), req)
    assert sysram.read("/proc/meminfo") == before


def test_online_on_devdax_device_is_refused(make_machine):
    k = make_machine("qemu-nvdimm", stage="devdax")
    with pytest.raises(Refused) as exc:
        plan_online(k, discover(k), BlockRequest(device="dax0.0", count=1))
    assert "reconfigure dax0.0 --mode system-ram" in exc.value.sentence()


def test_all_online_is_no_change(make_machine):
    k = make_machine("qemu-nvdimm", stage="system-ram")
    plan = plan_online(k, discover(k), BlockRequest(device="dax0.0"))
    assert plan.is_noop
    out = apply(k, plan)
    assert out.exit_code == ExitCode.NO_CHANGE


def test_online_partial_when_one_block_refuses(sysram):
    faults.inject(sysram.root, "online-fail", blocks=[35], errno="EHWPOISON")
    plan = plan_online(sysram, discover(sysram), BlockRequest(device="dax0.0", count=4))
    out = apply(sysram, plan)
    assert out.status == "partial" and out.exit_code == ExitCode.PARTIAL
    assert out.failed_units == ["memory35"]
    assert online_blocks(sysram) == [33, 34, 36]


def test_offline_by_list_and_abort_reonlines(make_machine):
    k = make_machine("qemu-nvdimm", stage="system-ram")
    plan = plan_offline(k, discover(k), BlockRequest(device="dax0.0", blocks="33-35"))
    assert apply(k, plan).status == "changed"
    assert 33 not in online_blocks(k)
    faults.inject(k.root, "offline-busy", blocks=[58])
    # a block list is all or nothing (--count would take a spare: test_offline_spares.py)
    plan = plan_offline(k, discover(k), BlockRequest(device="dax0.0", blocks="57-62"))
    assert [a.index for a in plan.actions] == [62, 61, 60, 59, 58, 57]
    out = apply(k, plan)
    assert out.status == "rolled-back" and "memory block 58" in out.message
    assert online_blocks(k) == list(range(36, 63))  # 62..59 were onlined again
    zones = {b.index: b.zones for b in discover(k).blocks}
    assert all(zones[i] == ("Movable",) for i in range(59, 63))


def test_offline_plain_boot_block(make_machine):
    k = make_machine("qemu-nvdimm")
    plan = plan_offline(k, discover(k), BlockRequest(blocks="5"))
    # boot memory sits in a kernel zone: refused unless forced
    assert [c.name for c in plan.blocking(set())] == ["zone-normal"]


def test_second_run_is_refused_while_locked(sysram):
    plan = plan_online(sysram, discover(sysram), BlockRequest(device="dax0.0", count=1))
    held = RunLock(sysram)
    held.acquire()
    try:
        with pytest.raises(Locked) as exc:
            apply(sysram, plan)
        assert "another pmemctl run" in exc.value.sentence()
    finally:
        held.release()
    assert apply(sysram, plan).status == "changed"


def test_ctrl_c_leaves_a_journal_that_rollback_completes(make_machine):
    k = make_machine("qemu-nvdimm", stage="devdax")
    plan = plan_reconfigure(k, discover(k), ReconfigureRequest("dax0.0", "system-ram"))

    def interrupt(i, action):
        if i == 10:
            raise KeyboardInterrupt

    ex = Executor(k, ApplyOptions(wait_timeout=2, before_step=interrupt))
    with pytest.raises(Interrupted):
        ex.apply(plan)
    rec = ex.journal.load()
    assert rec is not None and rec.header["state"] == "interrupted"
    # a later run sees the unfinished journal and refuses
    plan2 = plan_online(k, discover(k), BlockRequest(device="dax0.0", count=1))
    with pytest.raises(Locked) as exc:
        apply(k, plan2)
    assert command_line("rollback", sysroot=k.root) in exc.value.sentence()
    out = Executor(k, ApplyOptions(wait_timeout=2)).rollback_journal()
    assert out.status == "rolled-back", out.message
    topo = discover(k)
    assert topo.dax_device("dax0.0").driver == "device_dax"
    assert not [b for b in topo.blocks if b.index >= 33]
    assert Executor(k).journal.load() is None


def test_ctrl_c_then_resume_finishes(make_machine):
    k = make_machine("qemu-nvdimm", stage="devdax")
    plan = plan_reconfigure(k, discover(k), ReconfigureRequest("dax0.0", "system-ram"))

    def interrupt(i, action):
        if i == 20:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        Executor(k, ApplyOptions(wait_timeout=2, before_step=interrupt)).apply(plan)
    out = Executor(k, ApplyOptions(wait_timeout=2)).resume_journal()
    assert out.status == "changed", out.message
    assert online_blocks(k) == list(range(33, 63))
