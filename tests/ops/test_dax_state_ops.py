"""pmemctl's use of the proposed whole-device hotplug file ``daxX.Y/state``
(reference/provisioning.md §5: "use it when the file exists; fall back to
per-block writes otherwise").

Fidelity note: there is no real kernel for this.  The file is a 2026
proposal that no released kernel carries, so these tests run only against
the simulator's ``6.12+dax-state`` profile (pmemctl.sim.kernel.dax_state);
the per-block path, which every real kernel takes, stays the default and
is what the rest of the suite and the tests/vm tier exercise.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import pytest
from click.testing import CliRunner

from pmemctl.errors import ExitCode, Interrupted, Refused
from pmemctl.model.discover import discover
from pmemctl.ops.actions.dax import SetDaxState, UnbindDevice, UnplugDaxDevice
from pmemctl.ops.actions.memory import OfflineBlock, OnlineBlock
from pmemctl.ops.actions.offline_any import OfflineAnyBlock
from pmemctl.ops.actions.registry import action_from_dict
from pmemctl.ops.executor import ApplyOptions, Executor
from pmemctl.ops.plan import Plan
from pmemctl.ops.plan.blocks import plan_offline, plan_online
from pmemctl.ops.plan.combined import plan_reconfigure
from pmemctl.ops.requests import BlockRequest, ReconfigureRequest
from pmemctl.sim.build import materialise
from pmemctl.sim.kernel import SimulatedKernel
from pmemctl.sim.kernel import faults as sim_faults
from pmemctl.sim.scenario import load_scenario
from pmemctl.sysfs.state import Journal

KERNEL = "6.12+dax-state"
STATE = "/sys/bus/dax/devices/dax0.0/state"
BLOCKS = list(range(33, 63))  # qemu-nvdimm's dax0.0
TO_RAM = ReconfigureRequest("dax0.0", "system-ram")
TO_DEVDAX = ReconfigureRequest("dax0.0", "devdax")


@pytest.fixture
def machine() -> Iterator[Callable[..., SimulatedKernel]]:
    made: list[Path] = []

    def make(kernel: str = KERNEL, **params: str) -> SimulatedKernel:
        root = Path(tempfile.mkdtemp(prefix="pmemctl-daxstate-ops-",
                                     dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
        made.append(root)
        materialise(load_scenario("qemu-nvdimm", params, kernel=kernel), root / "t")
        return SimulatedKernel(root / "t")

    yield make
    for root in made:
        shutil.rmtree(root, ignore_errors=True)


def executor(k: SimulatedKernel, **kw) -> Executor:
    return Executor(k, ApplyOptions(offline_timeout=2, wait_timeout=2, **kw))


def machine_state(k: SimulatedKernel) -> tuple:
    topo = discover(k)
    return (topo.dax_device("dax0.0").driver, k.read_optional(STATE),
            sorted((b.index, b.online, b.zones) for b in topo.blocks if b.device == "dax0.0"))


def kinds(plan: Plan) -> list[str]:
    return [a.kind for a in plan.actions]


def cli_json(k: SimulatedKernel, *args: str) -> dict:
    from pmemctl.cli.main import cli

    res = CliRunner().invoke(cli, ["--sysroot", str(k.root), *args, "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def list_and_blocks(k: SimulatedKernel) -> tuple[dict, list[dict]]:
    """(list --json's dax0.0, blocks --json --device dax0.0's ranges)."""
    doc = cli_json(k, "list")
    dev = doc["buses"][0]["regions"][0]["namespaces"][0]["dax_device"]
    return dev, cli_json(k, "blocks", "--device", "dax0.0")["ranges"]


# -- the plan picks the path ---------------------------------------------------


def test_without_the_file_every_plan_stays_per_block(machine) -> None:
    k = machine(kernel="6.12", stage="devdax")
    plan = plan_reconfigure(k, discover(k), TO_RAM)
    assert "dax-state" not in kinds(plan) and kinds(plan).count("online-block") == 30
    k = machine(kernel="6.12", stage="system-ram")
    assert kinds(plan_offline(k, discover(k), BlockRequest(device="dax0.0"))) == ["offline-block"] * 30
    assert kinds(plan_reconfigure(k, discover(k), TO_DEVDAX)).count("offline-block") == 30


def test_with_the_file_a_whole_device_is_one_state_write(machine) -> None:
    k = machine(stage="devdax")
    plan = plan_reconfigure(k, discover(k), TO_RAM)
    assert kinds(plan) == ["unbind", "bind", "wait-blocks", "dax-state"]
    assert not plan.actions[-1].bounded  # onlining never hangs: no timeout on it
    # kmem adds the blocks offline (auto_online_blocks=offline): unplug them, then online all at once
    assert plan.shell_lines()[-2:] == [f"echo unplugged > {STATE}", f"echo online_movable > {STATE}"]
    k = machine(stage="system-ram")
    plan = plan_offline(k, discover(k), BlockRequest(device="dax0.0"))
    assert plan.actions == (UnplugDaxDevice("dax0.0", "unplugged", "online_movable"),)
    assert plan.shell_lines() == [f"echo unplugged > {STATE}"]
    assert kinds(plan_reconfigure(k, discover(k), TO_DEVDAX)) == ["dax-unplug", "unbind", "wait-blocks-gone", "bind"]
    assert plan.actions[0].bounded  # an offline may never finish: the timeout bounds the unplug


@pytest.mark.parametrize("req", [BlockRequest(device="dax0.0", count=2), BlockRequest(device="dax0.0", size="256M"),
                                 BlockRequest(device="dax0.0", blocks="60-62")], ids=["count", "size", "blocks"])
def test_a_part_of_a_device_stays_per_block(machine, req: BlockRequest) -> None:
    k = machine(stage="system-ram")
    plan = plan_offline(k, discover(k), req)
    # per-block steps (--count/--size may swap a busy block for a spare: still one block per step)
    assert plan.actions and all(isinstance(a, (OfflineBlock, OfflineAnyBlock)) for a in plan.actions)
    executor(k).apply(plan)
    assert k.read(STATE).strip() == "online_movable"  # kmem's record: the file speaks for the whole device
    again = plan_online(k, discover(k), BlockRequest(device="dax0.0"))
    # some blocks are online: the file onlines only from unplugged, so the rest go per block
    assert again.actions and all(isinstance(a, OnlineBlock) for a in again.actions)


def test_a_part_of_an_unplugged_device_is_refused_with_the_way_out(machine) -> None:
    k = machine(stage="system-ram")
    k.write(STATE, "unplugged")
    with pytest.raises(Refused, match="dax0.0 is unplugged") as caught:
        plan_online(k, discover(k), BlockRequest(device="dax0.0", count=2))
    assert f"--sysroot {k.root} online dax0.0" in str(caught.value.hint)


# -- applying ------------------------------------------------------------------


def test_whole_device_round_trip_and_list_blocks_agree(machine) -> None:
    k = machine(stage="devdax")
    out = executor(k).apply(plan_reconfigure(k, discover(k), TO_RAM))
    assert out.status == "changed", out.message
    dev, ranges = list_and_blocks(k)
    assert (dev["mode"], dev["blocks_total"], dev["blocks_online"]) == ("system-ram", 30, 30)
    assert [(r["first_block"], r["last_block"], r["state"], r["zones"]) for r in ranges] == [
        (33, 62, "online", ["movable"])]
    assert k.read(STATE).strip() == "online_movable"

    out = executor(k).apply(plan_offline(k, discover(k), BlockRequest(device="dax0.0")))
    assert out.status == "changed", out.message
    dev, ranges = list_and_blocks(k)
    assert (dev["mode"], dev["blocks_online"]) == ("system-ram", 0) and ranges == []
    assert k.read(STATE).strip() == "unplugged"
    assert any("reads unplugged" in line and f"--sysroot {k.root} online dax0.0" in line
               for line in out.machine_state), out.machine_state
    assert plan_offline(k, discover(k), BlockRequest(device="dax0.0")).is_noop

    out = executor(k).apply(plan_online(k, discover(k), BlockRequest(device="dax0.0", zone="normal")))
    assert out.status == "changed", out.message
    dev, ranges = list_and_blocks(k)
    assert dev["blocks_online"] == 30 and [r["zones"] for r in ranges] == [["normal"]]

    out = executor(k).apply(plan_reconfigure(k, discover(k), ReconfigureRequest("dax0.0", "devdax", force=True)))
    assert out.status == "changed", out.message
    dev, ranges = list_and_blocks(k)
    assert (dev["mode"], dev["driver"], ranges) == ("devdax", "device_dax", [])
    assert k.read(STATE).strip() == "unplugged"


def test_a_refused_unplug_is_rolled_back_by_the_kernel_and_reported(machine) -> None:
    k = machine(stage="system-ram")
    before = machine_state(k)
    sim_faults.inject(k.root, "offline-busy", blocks=[45])
    out = executor(k).apply(plan_offline(k, discover(k), BlockRequest(device="dax0.0")))
    # the one step failed and the kernel put every block back: nothing to undo
    assert (out.status, out.exit_code) == ("failed", ExitCode.FAILED), out.message
    assert f"writing 'unplugged' to {STATE} failed: EBUSY" in out.message
    assert machine_state(k) == before
    assert Executor(k).journal.load() is None


def test_an_unplug_that_never_finishes_times_out_and_the_kernel_undoes_it(machine) -> None:
    """offline-hang: the kernel retries the offline until a signal; the
    executor's timeout is that signal, and the whole unplug is undone."""
    k = machine(stage="system-ram")
    before = machine_state(k)
    sim_faults.inject(k.root, "offline-hang", blocks=[45], seconds=30)
    out = executor(k).apply(plan_offline(k, discover(k), BlockRequest(device="dax0.0")))
    assert (out.status, out.exit_code) == ("failed", ExitCode.FAILED), out.message
    assert "did not finish within 2 s" in out.message
    assert machine_state(k) == before


def test_a_failed_online_rolls_the_reconfigure_back(machine) -> None:
    k = machine(stage="devdax")
    before = machine_state(k)
    sim_faults.inject(k.root, "online-fail", blocks=[40])
    out = executor(k).apply(plan_reconfigure(k, discover(k), TO_RAM))
    assert out.status == "rolled-back" and out.exit_code == ExitCode.ROLLED_BACK, out.message
    assert machine_state(k) == before  # device_dax again, no blocks, state unplugged
    dev, ranges = list_and_blocks(k)
    assert (dev["mode"], ranges) == ("devdax", [])


def test_system_ram_to_devdax_rolls_back_to_online_movable(machine) -> None:
    k = machine(stage="system-ram")
    before = machine_state(k)
    sim_faults.inject(k.root, "bind-fail", driver="device_dax", device="dax0.0")
    out = executor(k).apply(plan_reconfigure(k, discover(k), TO_DEVDAX))
    assert out.status == "rolled-back", out.message
    assert machine_state(k) == before


# -- journal -------------------------------------------------------------------


def test_the_action_survives_the_journal_and_inverts() -> None:
    a = SetDaxState("dax0.0", "online_movable", "offline")
    assert action_from_dict(json.loads(json.dumps(a.to_dict()))) == a
    assert a.to_dict()["kind"] == "dax-state"
    assert a.inverse() == UnplugDaxDevice("dax0.0", "unplugged", "online_movable")  # offline is read-only
    unplug = UnplugDaxDevice("dax0.0", "unplugged", "online_kernel")
    assert unplug.inverse() == SetDaxState("dax0.0", "online_kernel", "unplugged")
    assert action_from_dict(json.loads(json.dumps(unplug.to_dict()))) == unplug
    assert [w.value for w in a.writes()] == ["unplugged", "online_movable"]
    assert SetDaxState("dax0.0", "online_movable", "online_movable").writes() == []
    plan = Plan("t", (UnbindDevice("dax0.0", "device_dax"), a, unplug))
    assert Plan.from_dict(json.loads(json.dumps(plan.to_dict()))).actions == plan.actions


def _interrupt_at(kind: str):
    def hook(i, action):
        if action.kind == kind:
            raise KeyboardInterrupt
    return hook


def test_resume_finishes_an_interrupted_whole_device_online(machine) -> None:
    k = machine(stage="devdax")
    with pytest.raises(Interrupted):
        executor(k, before_step=_interrupt_at("dax-state")).apply(plan_reconfigure(k, discover(k), TO_RAM))
    assert Journal(k).load().header["state"] == "interrupted"
    assert k.read(STATE).strip() == "offline"  # kmem bound, the state write not yet made
    out = executor(k).resume_journal()
    assert out.status == "changed", out.message
    assert machine_state(k) == ("kmem", "online_movable", [(i, True, ("Movable",)) for i in BLOCKS])


def test_rollback_undoes_an_interrupted_whole_device_offline(machine) -> None:
    k = machine(stage="system-ram")
    before = machine_state(k)
    with pytest.raises(Interrupted):
        executor(k, before_step=_interrupt_at("unbind")).apply(plan_reconfigure(k, discover(k), TO_DEVDAX))
    assert k.read(STATE).strip() == "unplugged"  # the state write was done
    out = executor(k).rollback_journal()
    assert out.status == "rolled-back", out.message
    assert machine_state(k) == before
    dev, ranges = list_and_blocks(k)
    assert dev["blocks_online"] == 30 and [r["zones"] for r in ranges] == [["movable"]]


@pytest.mark.parametrize("args, line, whole", [
    (["offline", "dax0.0"], f"echo unplugged > {STATE}", True),
    (["reconfigure", "dax0.0", "--mode", "devdax"], f"echo unplugged > {STATE}", True),
    (["offline", "dax0.0", "--count", "1"], "echo offline > /sys/devices/system/memory/memory62/state", False),
])
def test_dry_run_shows_the_state_file_write(machine, args: list[str], line: str, whole: bool) -> None:
    from pmemctl.cli.main import cli

    k = machine(stage="system-ram")
    before = machine_state(k)
    res = CliRunner().invoke(cli, ["--sysroot", str(k.root), *args, "--dry-run"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert line in res.output
    assert (f"> {STATE}" in res.output) == whole
    assert machine_state(k) == before


def test_destroying_a_system_ram_namespace_unplugs_with_one_write(machine) -> None:
    from pmemctl.ops.plan.namespace import plan_destroy
    from pmemctl.ops.requests import DestroyRequest

    k = machine(stage="system-ram")
    plan = plan_destroy(k, discover(k), DestroyRequest("namespace0.0"))
    assert kinds(plan)[:3] == ["dax-unplug", "unbind", "wait-blocks-gone"]
    assert "offline-block" not in kinds(plan)
    out = executor(k).apply(plan)
    assert out.status == "changed", out.message
    assert not [b for b in discover(k).blocks if b.device == "dax0.0"]
    assert k.read_optional(STATE) is None  # the dax device went with the namespace
