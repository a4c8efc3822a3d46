"""Rollback never wedges on a block another agent onlined first (issue 16,
"a journal that cannot wedge the tool").

Found by the state machine (test_state_machine.py): a failed devdax
reconfigure whose undo re-adds the memory while a udev rule onlines it into
ZONE_NORMAL.  Undoing "offline block 33" then met block 33 online in Normal,
not Movable, called it a conflict, and neither the automatic undo nor any
later ``pmemctl rollback`` could ever finish.  The undo of an offline now
accepts the block online in any zone, and the outcome's machine state says
where it is.
"""

from __future__ import annotations

import pytest

from pmemctl.errors import Interrupted
from pmemctl.model.discover import discover
from pmemctl.ops.executor import ApplyOptions, Executor
from pmemctl.ops.plan.blocks import plan_offline
from pmemctl.ops.plan.combined import plan_reconfigure
from pmemctl.ops.requests import BlockRequest, ReconfigureRequest
from pmemctl.sim.kernel import faults
from pmemctl.sysfs import paths

OPTS = ApplyOptions(offline_timeout=1, wait_timeout=1, poll_interval=0.001)


def dax_blocks(k):
    topo = discover(k)
    return topo.dax_device("dax0.0").driver, sorted(
        (b.index, b.online, b.zones) for b in topo.blocks if b.device == "dax0.0")


def test_a_failed_devdax_reconfigure_whose_undo_meets_a_udev_race_rolls_back(make_machine):
    # the state machine's sequence: to system-ram; bind-fail (device_dax) and
    # udev-race (Normal) injected; to devdax without onlining fails at the bind
    k = make_machine("tiny", stage="devdax")
    out = Executor(k, OPTS).apply(plan_reconfigure(k, discover(k), ReconfigureRequest("dax0.0", "system-ram")))
    assert out.status == "changed"
    blocks = [i for i, _, _ in dax_blocks(k)[1]]
    faults.inject(k.root, "bind-fail", driver="device_dax", device="dax0.0")
    faults.inject(k.root, "udev-race", zone="Normal")
    plan = plan_reconfigure(k, discover(k), ReconfigureRequest("dax0.0", "devdax", "movable", False, True))
    out = Executor(k, OPTS).apply(plan)
    faults.clear(k.root)

    assert out.status == "rolled-back", out.message
    assert Executor(k).journal.load() is None  # nothing left that rollback could never finish
    driver, now = dax_blocks(k)
    assert driver == "kmem"
    assert now == [(i, True, ("Normal",)) for i in blocks]  # back in use: in Normal, as the udev rule put them
    span = f"{blocks[0]}-{blocks[-1]}"
    moved = [line for line in out.machine_state if "online again but in Normal" in line]
    assert len(moved) == 1, out.machine_state  # one folded line, not one per block
    assert f"memory block(s) {span}" in moved[0] and "ZONE_MOVABLE" in moved[0]
    assert f"--sysroot {k.root} online --blocks {span} --zone movable" in moved[0]


def test_pmemctl_rollback_finishes_when_another_agent_onlined_a_block_into_another_zone(make_machine):
    k = make_machine("tiny", stage="system-ram")
    driver, before = dax_blocks(k)
    assert driver == "kmem" and all(on and zones == ("Movable",) for _, on, zones in before)

    def stop_at_third(i, action):
        if i == 2:
            raise KeyboardInterrupt

    plan = plan_offline(k, discover(k), BlockRequest(device="dax0.0", count=3))
    with pytest.raises(Interrupted):
        Executor(k, ApplyOptions(offline_timeout=1, wait_timeout=1, before_step=stop_at_third)).apply(plan)
    offlined = [a.index for a in plan.actions[:2]]
    # another agent (a udev rule) onlines the first of them into ZONE_NORMAL
    assert "Normal" in k.read(f"{paths.memory_block(offlined[0])}/valid_zones").split()
    k.write(f"{paths.memory_block(offlined[0])}/state", "online_kernel")

    out = Executor(k, OPTS).rollback_journal()
    assert out.status == "rolled-back", out.message
    assert Executor(k).journal.load() is None
    zones = {i: (on, z) for i, on, z in dax_blocks(k)[1]}
    assert zones[offlined[0]] == (True, ("Normal",))
    assert zones[offlined[1]] == (True, ("Movable",))  # undone by the rollback itself, into the zone it was in
    assert any(f"memory block(s) {offlined[0]} are online again but in Normal" in line
               for line in out.machine_state), out.machine_state
    assert not any(f"memory block(s) {offlined[1]} are" in line for line in out.machine_state)
