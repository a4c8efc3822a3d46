"""Each block is read once after its write, and that read is reused (issue 14).

A change of N blocks reads each block's state back once after writing it:
the outcome's "memory block(s) ...: state" lines use what the run read back
instead of reading every block again (the kmem-unbind precheck does not: it
reads every block, the guard against stranding memory),
and onlining reads no valid_zones after a write the kernel accepted.  What
the run did not read back itself (another agent's change, a driver change,
a block it never wrote) is still read from the machine.
"""

from __future__ import annotations

from collections import Counter
from typing import Optional, Sequence

from pmemctl.model.discover import discover
from pmemctl.ops.actions.dax import UnbindDevice
from pmemctl.ops.executor import ApplyOptions, Executor
from pmemctl.ops.plan.blocks import plan_offline, plan_online
from pmemctl.ops.requests import BlockRequest
from pmemctl.ops.services import OFFLINE_FIELDS
from pmemctl.sim.kernel import SimulatedKernel, faults
from pmemctl.sysfs import paths

OPTS = ApplyOptions(offline_timeout=5, wait_timeout=5, poll_interval=0.001)


class CountingKernel(SimulatedKernel):
    """A simulated kernel that counts pmemctl's reads of memory block attributes."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.reads: Counter[str] = Counter()
        self.counting = True

    def _count(self, kpath: str) -> None:
        if self.counting and kpath.startswith(paths.MEMORY + "/memory"):
            self.reads[kpath.rsplit("/", 1)[-1]] += 1

    def read_optional(self, kpath: str) -> Optional[str]:
        self._count(kpath)
        return super().read_optional(kpath)

    def read_many(self, relpaths: list[str], base: str) -> list[Optional[str]]:
        if base == paths.MEMORY:
            for rel in relpaths:
                self._count(f"{base}/{rel}")
        return super().read_many(relpaths, base)

    def read_table(self, base: str, dirs: Sequence[str], attrs: Sequence[str]) -> list[list[Optional[str]]]:
        if base == paths.MEMORY:
            for d in dirs:
                for attr in attrs:
                    self._count(f"{base}/{d}/{attr}")
        return super().read_table(base, dirs, attrs)

    def write(self, kpath: str, value: str) -> None:
        self.counting = False  # the simulated kernel's own reads are not pmemctl's
        try:
            super().write(kpath, value)
        finally:
            self.counting = True


def _machine(make_machine) -> CountingKernel:
    return CountingKernel(make_machine("big", blocks="512").root)


def test_offline_then_online_read_each_block_once_after_its_write(make_machine) -> None:
    k = _machine(make_machine)
    plan = plan_offline(k, discover(k, block_fields=OFFLINE_FIELDS), BlockRequest(device="dax0.0"))
    n = len(plan.actions)
    assert n > 100
    k.reads.clear()
    out = Executor(k, OPTS).apply(plan)
    assert out.status == "changed", out.message
    assert k.reads == Counter({"state": n})  # the read-backs, and nothing for the outcome
    first, last = sorted(a.index for a in plan.actions)[::n - 1]
    assert f"memory block(s) {first}-{last}: offline" in out.machine_state

    plan = plan_online(k, discover(k, block_fields=OFFLINE_FIELDS), BlockRequest(device="dax0.0"))
    k.reads.clear()
    out = Executor(k, OPTS).apply(plan)
    assert out.status == "changed", out.message
    assert k.reads == Counter({"state": n})  # no valid_zones: the kernel took online_movable
    assert f"memory block(s) {first}-{last}: online" in out.machine_state
    topo = discover(k)
    assert all(b.online and b.zones == ("Movable",) for b in topo.blocks if b.device == "dax0.0")


def test_a_block_another_agent_changed_during_the_undo_is_read_again(make_machine) -> None:
    # offline three blocks; before the third, another agent onlines the
    # second again; the third fails (EBUSY), so the run rolls back: the undo
    # of the second finds it online already, and the outcome must say it is
    # online (read again), not offline (what the run had read back earlier)
    k = _machine(make_machine)
    blocks = sorted(b.index for b in discover(k).blocks if b.device == "dax0.0")[-3:]
    faults.inject(k.root, "offline-busy", blocks=[blocks[0]])

    def other_agent(i: int, action: object) -> None:
        if i == 2:
            k.write(f"{paths.memory_block(blocks[1])}/state", "online_movable")

    plan = plan_offline(k, discover(k, block_fields=OFFLINE_FIELDS),
                        BlockRequest(device="dax0.0", blocks=",".join(map(str, blocks))))
    out = Executor(k, ApplyOptions(offline_timeout=5, wait_timeout=5, before_step=other_agent)).apply(plan)
    faults.clear(k.root)
    assert out.status == "rolled-back", out.message
    assert f"memory block(s) {blocks[0]}-{blocks[2]}: online" in out.machine_state, out.machine_state


def test_the_kmem_unbind_precheck_reads_every_block_again(make_machine) -> None:
    """The stranding guard trusts no earlier read (not even this run's own
    read-backs): every block is read when the step starts, and an online one
    refuses it."""
    k = _machine(make_machine)
    blocks = sorted(b.index for b in discover(k).blocks if b.device == "dax0.0")
    step = UnbindDevice("dax0.0", "kmem")
    k.reads.clear()
    refusal = step.precheck(k)
    assert k.reads["state"] == len(blocks)
    assert refusal is not None and f"[{blocks[0]}" in str(refusal)


def test_discovery_reads_zones_and_removable_of_the_detail_device_only(make_machine) -> None:
    k = _machine(make_machine)
    topo = discover(k, block_fields=OFFLINE_FIELDS, detail_device="dax0.0")
    mine = [b for b in topo.blocks if b.device == "dax0.0"]
    others = [b for b in topo.blocks if b.device != "dax0.0"]
    assert mine and others and any(b.online for b in others)
    assert all(b.zones == ("Movable",) and b.removable is True for b in mine)
    assert all(b.zones is None and b.removable is None for b in others)
    # a name that is no dax device's: every online block is read
    topo = discover(k, block_fields=OFFLINE_FIELDS, detail_device="namespace0.0")
    assert all(b.zones is not None and b.removable is not None for b in topo.blocks if b.online)
    assert all(b.zones is None for b in topo.blocks if not b.online)


def test_offline_by_count_reads_each_block_once_after_its_write_and_none_before(make_machine) -> None:
    """--count steps may take a spare (OfflineAnyBlock): the block's own
    write still tells "already offline" (EINVAL), so nothing is read before
    it, and the read-back is what the outcome reports."""
    k = _machine(make_machine)
    plan = plan_offline(k, discover(k, block_fields=OFFLINE_FIELDS, detail_device="dax0.0"),
                        BlockRequest(device="dax0.0", count=40))
    n = len(plan.actions)
    assert n == 40 and all(a.kind == "offline-any-block" for a in plan.actions)
    k.reads.clear()
    out = Executor(k, OPTS).apply(plan)
    assert out.status == "changed", out.message
    assert k.reads == Counter({"state": n})


def test_offline_by_count_of_a_block_another_agent_offlined_first_is_skipped(make_machine) -> None:
    """A planned block found offline by its own write (EINVAL) is a skipped
    step, not one this run did: a rollback must not online it."""
    k = _machine(make_machine)
    plan = plan_offline(k, discover(k, block_fields=OFFLINE_FIELDS, detail_device="dax0.0"),
                        BlockRequest(device="dax0.0", count=3))
    first = plan.actions[0]
    k.write(f"{paths.memory_block(first.index)}/state", "offline")  # another agent, after the plan
    out = Executor(k, OPTS).apply(plan)
    assert out.status == "changed", out.message
    assert [r.status.value for r in out.results] == ["skipped", "done", "done"]
    assert k.read_optional(f"{paths.memory_block(first.index)}/state") == "offline"


def test_progress_is_reported_a_few_hundred_times_and_reaches_the_total(make_machine) -> None:
    """A terminal's bar redraws ten times a second: a walk of thousands of
    blocks reports its progress about 500 times, not once a block, and its
    last report is the total (issue 14: the terminal path)."""
    k = CountingKernel(make_machine("big", blocks="4096").root)
    plan = plan_offline(k, discover(k, block_fields=OFFLINE_FIELDS), BlockRequest(device="dax0.0"))
    n = len(plan.actions)
    assert n > 1024
    seen: list[tuple[int, int]] = []
    out = Executor(k, ApplyOptions(progress=lambda done, total, label: seen.append((done, total)))).apply(plan)
    assert out.status == "changed", out.message
    assert 256 <= len(seen) <= 600, len(seen)
    assert seen[-1] == (n, n) and all(b >= a for (a, _), (b, _) in zip(seen, seen[1:], strict=False))
