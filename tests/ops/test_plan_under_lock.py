"""The plan that is applied is made under the run lock (issue 16, item 8):
another run that changes the machine between the plan a user saw and the
steps can no longer have a stale plan applied."""

from __future__ import annotations

import os

import pytest

from pmemctl.errors import Locked
from pmemctl.model.discover import discover as real_discover
from pmemctl.ops import services
from pmemctl.ops.requests import BlockRequest, ReconfigureRequest
from pmemctl.sysfs.state import RunLock


def lock_is_held(k) -> bool:
    """Whether some run holds ``k``'s run lock (tried from a fresh open file)."""
    try:
        probe = RunLock(k)
        probe.acquire()
    except Locked:
        return True
    probe.release()
    return False


def online(k):
    return sorted(b.index for b in real_discover(k).blocks if b.device == "dax0.0" and b.online)


@pytest.mark.parametrize("change", ["offline", "reconfigure"])
def test_the_applied_plan_is_made_and_confirmed_under_the_lock(make_machine, monkeypatch, change):
    k = make_machine("qemu-nvdimm", stage="system-ram")
    under_lock: list[bool] = []
    confirmed: list[bool] = []

    def discover(door, **kw):
        under_lock.append(lock_is_held(door))
        return real_discover(door, **kw)

    def confirm(plan):
        confirmed.append(lock_is_held(k))
        return True

    monkeypatch.setattr(services, "discover", discover)
    opts = services.RunOptions(confirm=confirm)
    if change == "offline":
        result = services.offline(k, BlockRequest(device="dax0.0", count=2), opts)
    else:
        result = services.reconfigure(k, ReconfigureRequest("dax0.0", "devdax"), opts)
    assert result.outcome is not None and result.outcome.status == "changed", result.outcome
    assert under_lock[-1] is True  # the machine the applied plan was made from was read under the lock
    assert all(confirmed)  # consent, when asked, is asked under it too (offlining blocks needs none)
    assert not lock_is_held(k)  # released after the run


def test_another_run_cannot_change_the_machine_between_planning_and_applying(make_machine, monkeypatch):
    """Another pmemctl run starting right after our plan was made is refused
    (the lock is held from the discovery on), instead of changing the
    machine under a plan that no longer fits it."""
    k = make_machine("qemu-nvdimm", stage="system-ram")
    first = online(k)
    others: list[str] = []

    def discover(door, **kw):
        topo = real_discover(door, **kw)
        try:  # another run, started now, wants to offline the block our plan will choose
            services.offline(k, BlockRequest(blocks=str(first[-1])), services.RunOptions(yes=True))
            others.append("changed")
        except Locked:
            others.append("locked")
        return topo

    monkeypatch.setattr(services, "discover", discover)
    result = services.offline(k, BlockRequest(device="dax0.0", count=2), services.RunOptions(yes=True))
    assert others == ["locked"]
    assert result.outcome is not None and result.outcome.status == "changed"
    assert online(k) == first[:-2]  # both blocks offlined by our run, as planned


def test_a_dry_run_takes_no_lock_and_creates_nothing(make_machine):
    k = make_machine("qemu-nvdimm", stage="system-ram")
    result = services.offline(k, BlockRequest(device="dax0.0", count=2), services.RunOptions(dry_run=True))
    assert result.outcome is None and result.plan.actions
    assert not os.path.exists(os.path.join(k.root, "run"))
    assert not os.path.exists(os.path.join(k.root, "var/lib/pmemctl"))


def test_a_run_is_refused_while_another_holds_the_lock(make_machine):
    k = make_machine("qemu-nvdimm", stage="system-ram")
    other = RunLock(k)
    other.acquire()
    try:
        with pytest.raises(Locked):
            services.offline(k, BlockRequest(device="dax0.0", count=2), services.RunOptions(yes=True))
    finally:
        other.release()
