"""Issue 15, item 11: ``offline DEV --count N`` / ``--size S`` asks for an
amount of memory.  Like chmem, a block the kernel will not offline (EBUSY, a
poisoned page, no answer within the timeout) is replaced by another online
movable block of the same device; the run is PARTIAL only when the amount
cannot be reached.  The journal records the block actually offlined, so the
automatic undo, ``rollback`` and ``resume`` act on the right one.
``--blocks LIST`` keeps all-or-nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pmemctl.errors import ExitCode
from pmemctl.model.discover import discover
from pmemctl.ops.actions.offline_any import OfflineAnyBlock, OfflineSpareBlock
from pmemctl.ops.executor import ApplyOptions, Executor, Interrupted
from pmemctl.ops.plan.blocks import plan_offline
from pmemctl.ops.requests import BlockRequest
from pmemctl.ops.services import recovery_plan
from pmemctl.sim.kernel import faults
from pmemctl.sysfs import paths

OPTS = ApplyOptions(offline_timeout=2, wait_timeout=2)
DEVICE_BLOCKS = set(range(33, 63))  # qemu-nvdimm: dax0.0 holds blocks 33-62


def offline_blocks(k) -> set[int]:
    return {b.index for b in discover(k).blocks if b.device == "dax0.0" and not b.online}


def taken(out) -> list[OfflineSpareBlock]:
    return [r.action for r in out.results if isinstance(r.action, OfflineSpareBlock) and r.status == "done"]


@pytest.fixture
def sysram(make_machine):
    return make_machine("qemu-nvdimm", stage="system-ram")


def test_a_busy_block_is_replaced_by_a_spare_of_the_same_device(sysram):
    faults.inject(sysram.root, "offline-busy", blocks=[58])
    plan = plan_offline(sysram, discover(sysram), BlockRequest(device="dax0.0", count=6))
    assert all(isinstance(a, OfflineAnyBlock) for a in plan.actions)
    out = Executor(sysram, OPTS).apply(plan)
    assert out.status == "changed" and out.exit_code == ExitCode.OK, out.message
    assert offline_blocks(sysram) == {62, 61, 60, 59, 57, 56}
    [spare] = taken(out)
    assert (spare.index, spare.instead_of) == (56, 58)
    assert "block 58: EBUSY" in spare.describe() and "instead of block 58" in spare.describe()
    assert any("56" in line and "offline" in line for line in out.machine_state), out.machine_state


def test_two_busy_blocks_take_two_different_spares(sysram):
    faults.inject(sysram.root, "offline-busy", blocks=[60, 58])
    out = Executor(sysram, OPTS).apply(plan_offline(sysram, discover(sysram), BlockRequest(device="dax0.0",
                                                                                          size="768M")))
    assert out.status == "changed", out.message
    assert sorted((s.instead_of, s.index) for s in taken(out)) == [(58, 55), (60, 56)]
    assert len(offline_blocks(sysram)) == 6


def test_a_block_that_does_not_answer_within_the_timeout_is_replaced(sysram):
    faults.inject(sysram.root, "offline-hang", blocks=[61], seconds=30)
    plan = plan_offline(sysram, discover(sysram), BlockRequest(device="dax0.0", count=2))
    out = Executor(sysram, ApplyOptions(offline_timeout=0.3, wait_timeout=2)).apply(plan)
    assert out.status == "changed", out.message
    [spare] = taken(out)
    assert spare.instead_of == 61 and "ETIMEDOUT" in spare.why
    assert offline_blocks(sysram) == {62, spare.index}


def test_partial_only_when_the_count_cannot_be_reached(sysram):
    # 30 online blocks, 29 asked: one spare (33) for two busy blocks
    faults.inject(sysram.root, "offline-busy", blocks=[60, 58])
    out = Executor(sysram, OPTS).apply(plan_offline(sysram, discover(sysram), BlockRequest(device="dax0.0",
                                                                                          count=29)))
    assert out.status == "partial" and out.exit_code == ExitCode.PARTIAL, out.message
    assert out.failed_units == ["memory58"]
    assert len(offline_blocks(sysram)) == 28 and 33 in offline_blocks(sysram)
    assert "no other online movable block of dax0.0" in out.message and "EBUSY" in out.message


def test_block_list_stays_all_or_nothing(sysram):
    faults.inject(sysram.root, "offline-busy", blocks=[58])
    plan = plan_offline(sysram, discover(sysram), BlockRequest(device="dax0.0", blocks="57-62"))
    assert not any(isinstance(a, OfflineAnyBlock) for a in plan.actions)
    out = Executor(sysram, OPTS).apply(plan)
    assert out.status == "rolled-back" and out.exit_code == ExitCode.ROLLED_BACK
    assert offline_blocks(sysram) == set()


def test_spares_are_movable_removable_blocks_no_step_targets(make_machine):
    k = make_machine("qemu-nvdimm", stage="system-ram")
    k.write(f"{paths.memory_block(40)}/state", "offline")
    k.write(f"{paths.memory_block(40)}/state", "online_kernel")  # now in ZONE_NORMAL: no spare
    k.write(f"{paths.memory_block(41)}/state", "offline")
    plan = plan_offline(k, discover(k), BlockRequest(device="dax0.0", count=4))
    spares = {a.spares for a in plan.actions}
    assert spares == {"33-39,42-58"}
    assert any("replaced by another online movable block of dax0.0" in n and "PARTIAL only if fewer than 4" in n
               for n in plan.notes), plan.notes


def test_the_journal_records_the_spare_and_rollback_puts_it_back(sysram):
    faults.inject(sysram.root, "offline-busy", blocks=[61])

    def stop(i, action):
        if i == 3:
            raise KeyboardInterrupt

    plan = plan_offline(sysram, discover(sysram), BlockRequest(device="dax0.0", count=6))
    ex = Executor(sysram, ApplyOptions(offline_timeout=2, wait_timeout=2, before_step=stop))
    with pytest.raises(Interrupted):
        ex.apply(plan)
    assert offline_blocks(sysram) == {62, 60, 56}  # 61 busy: 56 (the highest spare) instead
    log = Path(sysram.root, "var/lib/pmemctl/journal.log").read_text()
    took = [json.loads(line) for line in log.splitlines() if '"took"' in line]
    assert took and took[0]["i"] == 1 and took[0]["took"]["index"] == 56
    faults.clear(sysram.root)
    undo = recovery_plan(sysram, "rollback")  # rollback --dry-run shows the same undo
    assert [a.index for a in undo.actions] == [60, 56, 62], [a.describe() for a in undo.actions]
    out = Executor(sysram, OPTS).rollback_journal()
    assert out.status == "rolled-back", out.message
    assert offline_blocks(sysram) == set()  # 56 is online again, not the never-offlined 61


def test_resume_after_a_spare_counts_it_and_reaches_the_amount(sysram):
    faults.inject(sysram.root, "offline-busy", blocks=[61])

    def stop(i, action):
        if i == 3:
            raise KeyboardInterrupt

    plan = plan_offline(sysram, discover(sysram), BlockRequest(device="dax0.0", count=6))
    with pytest.raises(Interrupted):
        Executor(sysram, ApplyOptions(offline_timeout=2, wait_timeout=2, before_step=stop)).apply(plan)
    out = Executor(sysram, OPTS).resume_journal()
    assert out.status == "changed", out.message
    assert offline_blocks(sysram) == {62, 60, 59, 58, 57, 56}
