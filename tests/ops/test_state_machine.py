"""Property test: random reconfigure / online / offline / fault sequences.

After every step the machine must be consistent:
  * the dax device is bound to a driver (never left with none);
  * block states match the device mode (devdax: no blocks; system-ram: all of
    the hot-plugged range present);
  * the journal exists exactly when the last run could not finish its rollback;
  * node and /proc meminfo totals add up to the online blocks.
At least 1,000 sequences run (PMEMCTL_STATE_MACHINE_EXAMPLES to change it).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from ops_support import tiny_scenario_text

from pmemctl.errors import PmemctlError
from pmemctl.model.discover import discover
from pmemctl.ops.executor import ApplyOptions, Executor
from pmemctl.ops.plan.blocks import plan_offline, plan_online
from pmemctl.ops.plan.combined import plan_reconfigure
from pmemctl.ops.requests import BlockRequest, ReconfigureRequest
from pmemctl.sim.build import materialise
from pmemctl.sim.kernel import SimulatedKernel, faults
from pmemctl.sim.scenario import scenario_from_toml

EXAMPLES = int(os.environ.get("PMEMCTL_STATE_MACHINE_EXAMPLES", "1000"))
BLOCK_KB = 128 * 1024
_TEMPLATE: dict[str, Path] = {}
#: sysfs lives in memory; so do these trees (ext4 makes each example ~10x slower)
_TMP = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


@pytest.fixture(scope="module", autouse=True)
def _remove_template() -> Iterator[None]:
    """The template tree is made on first use and removed with the module
    (it used to stay in /dev/shm after every run)."""
    yield
    made = _TEMPLATE.pop("t", None)
    if made is not None:
        shutil.rmtree(made.parent, ignore_errors=True)


def template() -> Path:
    if "t" not in _TEMPLATE:
        root = Path(tempfile.mkdtemp(prefix="pmemctl-sm-template-", dir=_TMP))
        materialise(scenario_from_toml("tiny", tiny_scenario_text("768M"), {"stage": "devdax"}), root / "tree")
        _TEMPLATE["t"] = root / "tree"
    return _TEMPLATE["t"]


class MachineRules(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.workdir = Path(tempfile.mkdtemp(prefix="pmemctl-sm-", dir=_TMP))
        shutil.copytree(template(), self.workdir / "t", symlinks=True)
        self.k = SimulatedKernel(self.workdir / "t")
        self.opts = ApplyOptions(offline_timeout=1, wait_timeout=1, poll_interval=0.001)
        self.last_status = "none"
        topo = discover(self.k)
        dev = topo.dax_device("dax0.0")
        assert dev is not None
        bs = topo.policy.block_size
        self.hotplug = list(range(-(-dev.ranges()[0][0] // bs), dev.ranges()[0][1] // bs))

    def teardown(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _apply(self, plan) -> None:
        if plan.blocking({"--force"}):
            return
        out = Executor(self.k, self.opts).apply(plan)
        self.last_status = out.status

    def _journal(self):
        return Executor(self.k).journal.load()

    # -- rules -------------------------------------------------------------

    @precondition(lambda self: self._journal() is None)
    @rule(mode=st.sampled_from(["system-ram", "devdax"]), zone=st.sampled_from(["movable", "normal"]),
          online=st.booleans())
    def reconfigure(self, mode: str, zone: str, online: bool) -> None:
        try:
            plan = plan_reconfigure(self.k, discover(self.k), ReconfigureRequest("dax0.0", mode, zone, online, True))
        except PmemctlError:
            return
        self._apply(plan)

    @precondition(lambda self: self._journal() is None)
    @rule(count=st.integers(1, 6), want_online=st.booleans(), zone=st.sampled_from(["movable", "normal"]))
    def blocks(self, count: int, want_online: bool, zone: str) -> None:
        try:
            req = BlockRequest(device="dax0.0", count=count, zone=zone, force=True)
            topo = discover(self.k)
            plan = plan_online(self.k, topo, req) if want_online else plan_offline(self.k, topo, req)
        except PmemctlError:
            return
        self._apply(plan)

    @rule(kind=st.sampled_from(["offline-busy", "online-fail", "bind-fail", "udev-race"]),
          pick=st.integers(0, 100))
    def inject(self, kind: str, pick: int) -> None:
        block = self.hotplug[pick % len(self.hotplug)]
        if kind in ("offline-busy", "online-fail"):
            faults.inject(self.k.root, kind, blocks=[block])
        elif kind == "bind-fail":
            faults.inject(self.k.root, kind, driver=("kmem", "device_dax")[pick % 2], device="dax0.0")
        else:
            faults.inject(self.k.root, kind, zone="Normal")

    @rule()
    def clear_faults(self) -> None:
        faults.clear(self.k.root)

    @precondition(lambda self: self._journal() is not None)
    @rule()
    def recover(self) -> None:
        faults.clear(self.k.root)
        out = Executor(self.k, self.opts).rollback_journal()
        assert out.status in ("rolled-back", "no-change"), out.message
        self.last_status = "recovered"
        dev = discover(self.k).dax_device("dax0.0")
        assert dev is not None and dev.driver in ("device_dax", "kmem"), dev

    # -- invariants (one discovery per check) -----------------------------

    @invariant()
    def consistent(self) -> None:
        topo = discover(self.k)
        dev = topo.dax_device("dax0.0")
        assert dev is not None
        # the journal exists exactly when a rollback could not finish
        assert (self._journal() is not None) == (self.last_status == "rollback-incomplete")
        if self.last_status == "rollback-incomplete":
            # Both drivers refused (injected): the run says so, keeps the
            # journal, and the 'recover' rule must restore a driver.
            return
        # never left without a driver
        assert dev.driver in ("device_dax", "kmem"), dev
        # block states match the device mode
        present = sorted(b.index for b in topo.blocks if b.device == "dax0.0")
        online = [b for b in topo.blocks if b.device == "dax0.0" and b.online]
        if dev.driver == "device_dax":
            assert present == [] and topo.node(1) is None
        else:
            assert present == self.hotplug
            assert all(b.zones in (("Movable",), ("Normal",)) for b in online)
        # totals add up
        node1 = topo.node(1)
        if node1 is not None:
            assert node1.mem_total == len(online) * BLOCK_KB * 1024
            assert node1.has_memory == bool(online)
            assert (node1.memory_tier is not None) == bool(online)
        node_total = sum(n.mem_total or 0 for n in topo.nodes)
        meminfo = self.k.read("/proc/meminfo").splitlines()[0].split()
        assert int(meminfo[1]) * 1024 == node_total


TestMachineRules = MachineRules.TestCase
TestMachineRules.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
