"""Namespaces on the simulated kernel: create, reconfigure, destroy, with both
backends (sysfs natively; the real ndctl through the simulator's FUSE
bridge), the data-safety refusals, and namespace -> system-ram as one plan.
"""

from __future__ import annotations

import json
import os

import pytest

from pmemctl.commandline import command_line
from pmemctl.errors import ExitCode, NotFound, Refused, Unsupported, UsageError
from pmemctl.model.discover import discover
from pmemctl.model.records import DaxMode, NamespaceMode
from pmemctl.ops.actions.registry import action_from_dict
from pmemctl.ops.backends import choose_backend
from pmemctl.ops.executor import ApplyOptions
from pmemctl.ops.plan import Plan
from pmemctl.ops.plan.combined import plan_reconfigure
from pmemctl.ops.plan.namespace import plan_create, plan_destroy, plan_reconfigure_namespace
from pmemctl.ops.requests import (
    CreateRequest,
    DestroyRequest,
    NsReconfigureRequest,
    ReconfigureRequest,
)
from pmemctl.ops.select import AmbiguousSelector, select_namespace
from pmemctl.ops.services import RunOptions, run_plan
from pmemctl.sim.kernel import faults, tool_unavailable_reason

GiB = 1024**3
MiB = 1024**2

_BRIDGE = tool_unavailable_reason("ndctl")


@pytest.fixture(params=["sysfs", "ndctl"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "ndctl" and _BRIDGE is not None:
        pytest.skip(f"ndctl backend on the simulator needs the FUSE bridge: {_BRIDGE}")
    return str(request.param)


@pytest.fixture
def machine(make_machine, backend):
    """make_machine for either backend: the FUSE bridge serves trees built
    under /dev/shm too (it binds the tree outside its private /dev)."""
    return make_machine


def opts(**kw: object) -> RunOptions:
    return RunOptions(yes=True, apply=ApplyOptions(offline_timeout=2, wait_timeout=2), **kw)  # type: ignore[arg-type]


def apply(k, plan: Plan, **kw: object):
    return run_plan(k, plan, opts(**kw)).outcome


def namespaces(k) -> dict[str, object]:
    return {n.name: n for n in discover(k).namespaces}


def create(k, region, size, mode, backend, **kw):
    req = CreateRequest(region, size, mode, backend=backend, **kw)
    return plan_create(k, discover(k, with_blocks=False), req)


def mountinfo(k, *lines: str) -> None:
    os.makedirs(k.host_path("/proc/1"), exist_ok=True)
    with open(k.host_path("/proc/1/mountinfo"), "w") as fh:
        fh.write("22 1 0:21 / /proc rw,nosuid - proc proc rw\n")
        for line in lines:
            fh.write(line + "\n")


def holders(k, *entries: dict[str, object]) -> None:
    with open(os.path.join(k.marker, "holders.json"), "w") as fh:
        json.dump(list(entries), fh)


# -- create ------------------------------------------------------------------------


def test_create_devdax(machine, backend):
    k = machine("optane-2s")
    plan = create(k, "region1", "66G", "devdax", backend)
    assert not plan.refusals and not plan.destructive
    assert [a.describe() for a in plan.actions] == ["create namespace1.2 in region1: 66G devdax (align 2M)"]
    if backend == "ndctl":
        assert plan.shell_lines() == [
            f"ndctl create-namespace --region region1 --mode devdax --size {66 * GiB} "
            f"--uuid {plan.actions[0].uuid} --align 2097152"
        ]
    else:
        lines = plan.shell_lines()
        assert lines[0] == f"echo {plan.actions[0].uuid} > /sys/bus/nd/devices/namespace1.2/uuid"
        assert lines[2] == "echo 0x1080000000 > /sys/bus/nd/devices/namespace1.2/size"
        assert lines[-2:] == [
            "echo namespace1.2 > /sys/bus/nd/devices/dax1.1/namespace",
            "echo dax1.1 > /sys/bus/nd/drivers/dax_pmem/bind",
        ]
    out = apply(k, plan)
    assert out.status == "changed", out.message
    assert out.exit_code == ExitCode.OK
    topo = discover(k)
    ns = topo.namespace("namespace1.2")
    assert ns is not None and ns.mode == NamespaceMode.DEVDAX and ns.size == 66 * GiB
    assert ns.uuid == plan.actions[0].uuid
    # what the planner predicted is what the kernel did
    assert ns.resource == 0x8000000000 + 144 * GiB
    assert ns.usable_size == 69757566976
    dev = topo.dax_device("dax1.2")
    assert dev is not None and dev.mode == DaxMode.DEVDAX and dev.namespace == "namespace1.2"
    # the nd personality is dax1.1, the device a user opens is named after
    # the namespace: the outcome names /dev/dax1.2
    assert out.machine_state == ["namespace1.2 is devdax (/dev/dax1.2), enabled"]
    region = topo.region("region1")
    assert region.namespace_seed == "namespace1.3" and region.available_size == (240 - 66) * GiB


@pytest.mark.parametrize("mode,blockdev", [("fsdax", "pmem1.2"), ("sector", "pmem1.2s"), ("raw", "pmem1.2")])
def test_create_other_modes(machine, backend, mode, blockdev):
    k = machine("optane-2s")
    out = apply(k, create(k, "region1", "48G", mode, backend))
    assert out.status == "changed", out.message
    ns = namespaces(k)["namespace1.2"]
    assert ns.mode.value == mode and ns.blockdev == blockdev and ns.enabled
    assert out.machine_state == [f"namespace1.2 is {mode} (/dev/{blockdev}), enabled"]
    if mode == "sector":
        assert ns.sector_size == 4096


def test_create_with_a_name_and_select_by_it(machine, backend):
    k = machine("optane-2s")
    plan = create(k, "1", "96M", "fsdax", backend, name="scratch", align="2M")
    assert apply(k, plan).status == "changed"
    topo = discover(k)
    ns = select_namespace(topo, "scratch")
    assert ns.name == "namespace1.2" and ns.alt_name == "scratch"
    assert select_namespace(topo, ns.uuid.upper()).name == "namespace1.2"
    assert select_namespace(topo, "1.2").name == "namespace1.2"


def test_create_refusals(machine, backend):
    k = machine("optane-2s")
    before = namespaces(k)
    plan = create(k, "region1", "100G", "devdax", backend)
    (check,) = plan.refusals
    assert check.name == "size" and check.override is None
    assert "102384M or 102432M (both about 100G)" in check.message
    with pytest.raises(Refused, match="nearest valid"):
        run_plan(k, plan, opts(force=True))
    assert "does not fit" in create(k, "region1", "300G", "fsdax", backend).refusals[0].message
    assert "below the smallest" in create(k, "region1", "8M", "sector", backend).refusals[0].message
    with pytest.raises(NotFound, match="no region named 'region7'"):
        create(k, "region7", "1G", "devdax", backend)
    with pytest.raises(UsageError, match="not supported"):
        create(k, "region1", "48G", "devdax", backend, align="64K")
    with pytest.raises(UsageError, match="--align applies to fsdax and devdax"):
        create(k, "region1", "48G", "sector", backend, align="2M")
    with pytest.raises(UsageError, match="not a size"):
        create(k, "region1", "lots", "raw", backend)
    assert namespaces(k).keys() == before.keys()


def test_create_refused_on_a_label_less_region(machine, backend):
    k = machine("qemu-nvdimm", stage="raw")
    with pytest.raises(Refused, match="label-less.*cannot be subdivided") as info:
        create(k, "region0", "1G", "devdax", backend)
    assert command_line("namespace", "reconfigure", "namespace0.0", "--mode", "devdax",
                        sysroot=k.root) in info.value.sentence()


def test_create_refused_for_a_mode_the_region_cannot_take(machine, backend):
    k = machine("optane-2s")
    region = discover(k).region("region1")
    os.chmod(k.host_path(region.path + "/dax_seed"), 0o644)
    with open(k.host_path(region.path + "/dax_seed"), "w") as fh:
        fh.write("\n")  # a kernel without dax_pmem offers no dax seed
    with pytest.raises(Unsupported, match="cannot take devdax"):
        create(k, "region1", "48G", "devdax", backend)


def test_create_failure_is_recovered(make_machine):
    """dax_pmem refuses the seed: ndctl's autorecover, natively (§5.2)."""
    k = make_machine("optane-2s")
    faults.inject(k.root, "bind-fail", driver="dax_pmem", device="dax1.1", errno="ENXIO")
    plan = create(k, "region1", "48G", "devdax", "sysfs")
    out = apply(k, plan)
    assert out.status == "failed" and out.exit_code == ExitCode.FAILED
    assert "ENXIO" in out.message
    topo = discover(k)
    seed = topo.namespace("namespace1.2")
    assert seed is not None and seed.size == 0 and seed.uuid is None and seed.holder is None
    assert topo.region("region1").available_size == 240 * GiB
    assert topo.region("region1").dax_seed == "dax1.1"


def test_a_stale_plan_is_not_applied(make_machine):
    k = make_machine("optane-2s")
    plan = create(k, "region1", "48G", "devdax", "sysfs")
    assert apply(k, create(k, "region1", "48G", "fsdax", "sysfs")).status == "changed"  # someone else
    out = apply(k, plan)
    assert out.status == "failed"
    assert "namespace seed is now namespace1.3" in out.message
    assert [n.mode.value for n in discover(k).namespaces if n.region == "region1" and n.size] == [
        "sector", "devdax", "fsdax"]


# -- reconfigure -----------------------------------------------------------------


def test_reconfigure_labelled(machine, backend):
    k = machine("optane-2s")
    plan = plan_reconfigure_namespace(
        k, discover(k), NsReconfigureRequest("namespace0.2", "devdax", "1G", backend=backend))
    assert plan.destructive and "the data on namespace0.2 (48G, raw, /dev/pmem0.2) will be lost" in plan.consent
    assert plan.actions[0].describe() == (
        "reconfigure namespace0.2 from raw to devdax (align 1G) (wipes its info block)")
    if backend == "sysfs":
        assert plan.shell_lines()[:3] == [
            "echo namespace0.2 > /sys/bus/nd/drivers/nd_pmem/unbind",
            "echo 1 > /sys/bus/nd/devices/namespace0.2/force_raw",
            "echo namespace0.2 > /sys/bus/nd/drivers/nd_pmem/bind",
        ]
        assert "dd if=/dev/zero of=/dev/pmem0.2 bs=8192 count=1 oflag=direct conv=notrunc" in plan.shell_lines()
    out = apply(k, plan)
    assert out.status == "changed", out.message
    topo = discover(k)
    ns = topo.namespace("namespace0.2")
    assert ns.mode == NamespaceMode.DEVDAX and ns.align == 1 * GiB and ns.size == 48 * GiB
    assert ns.uuid == plan.actions[0].new_uuid  # a new label uuid, as ndctl -e gives, with either backend
    assert topo.dax_device("dax0.2") is not None


def test_reconfigure_label_less_round_trip(machine, backend):
    k = machine("qemu-nvdimm", stage="raw")
    for mode in ("devdax", "fsdax", "sector", "raw"):
        plan = plan_reconfigure_namespace(k, discover(k), NsReconfigureRequest("0.0", mode,
                                                                                           backend=backend))
        out = apply(k, plan)
        assert out.status == "changed", (mode, out.message)
        ns = namespaces(k)["namespace0.0"]
        assert ns.mode.value == mode and ns.enabled
        assert ns.size == 3968 * MiB  # geometry kept
    assert discover(k).dax_devices == ()


def test_reconfigure_to_the_same_mode_is_no_change(machine, backend):
    k = machine("optane-2s")
    plan = plan_reconfigure_namespace(k, discover(k), NsReconfigureRequest("db-log", "fsdax",
                                                                                       backend=backend))
    assert plan.is_noop and plan.already == ("namespace0.0 is already fsdax (align 2M)",)
    out = apply(k, plan)
    assert out.status == "no-change" and out.exit_code == ExitCode.NO_CHANGE


def test_reconfigure_needs_consent(make_machine):
    k = make_machine("optane-2s")
    plan = plan_reconfigure_namespace(k, discover(k), NsReconfigureRequest("namespace1.0", "fsdax",
                                                                                       backend="sysfs"))
    with pytest.raises(Refused, match="destructive: the data on namespace1.0"):
        run_plan(k, plan, RunOptions())
    assert namespaces(k)["namespace1.0"].mode == NamespaceMode.SECTOR


def test_reconfigure_rolls_back_when_the_new_personality_fails(make_machine):
    k = make_machine("optane-2s")
    faults.inject(k.root, "bind-fail", driver="dax_pmem", device="dax1.1", errno="EINVAL")
    plan = plan_reconfigure_namespace(k, discover(k), NsReconfigureRequest("namespace1.0", "devdax",
                                                                                       backend="sysfs"))
    out = apply(k, plan)
    assert out.status == "failed" and "EINVAL" in out.message
    assert "namespace1.0 was set up as sector again" in out.message
    # the step put the old personality back (a new btt on the same namespace)
    ns = namespaces(k)["namespace1.0"]
    assert ns.mode == NamespaceMode.SECTOR and ns.enabled and ns.size == 48 * GiB
    assert ns.holder != "btt1.0"


# -- destroy ------------------------------------------------------------------------


def test_destroy_labelled(machine, backend):
    k = machine("optane-2s")
    plan = plan_destroy(k, discover(k), DestroyRequest("db-log", backend=backend))
    assert plan.destructive
    assert plan.consent == "the data on namespace0.0 (96G, fsdax, /dev/pmem0, name 'db-log') will be lost"
    out = apply(k, plan)
    assert out.status == "changed", out.message
    topo = discover(k)
    ns = topo.namespace("namespace0.0")  # id 0 stays, unconfigured
    assert ns is not None and ns.size == 0 and ns.uuid is None and ns.mode == NamespaceMode.RAW
    assert topo.region("region0").available_size == (48 + 96) * GiB
    with pytest.raises(NotFound):
        select_namespace(topo, "db-log")


def test_destroy_then_create_reuses_the_space(machine, backend):
    k = machine("optane-2s")
    assert apply(k, plan_destroy(k, discover(k), DestroyRequest("namespace0.2", backend=backend))
                 ).status == "changed"
    assert "namespace0.2" not in namespaces(k)  # a deleted namespace that is not id 0 nor the seed goes away
    plan = create(k, "region0", "96G", "devdax", backend)
    assert [c.ok for c in plan.checks if c.name == "size"] == [True]
    assert apply(k, plan).status == "changed"
    new = [n for n in discover(k).namespaces if n.uuid == plan.actions[0].uuid]
    assert len(new) == 1 and new[0].resource == 0x2000000000 + (96 + 192) * GiB


def test_destroy_label_less_leaves_it_raw(machine, backend):
    # the shipped devdax stage is labelled (ndctl's autolabel on the real
    # guest); pmemctl's own reconfigure keeps the region label-less
    k = machine("qemu-nvdimm", stage="raw")
    plan = plan_reconfigure_namespace(k, discover(k), NsReconfigureRequest("namespace0.0", "devdax",
                                                                                       backend=backend))
    assert apply(k, plan).status == "changed"
    assert namespaces(k)["namespace0.0"].mode == NamespaceMode.DEVDAX
    plan = plan_destroy(k, discover(k), DestroyRequest("namespace0.0", backend=backend))
    assert any("label-less" in n for n in plan.notes)
    assert apply(k, plan).status == "changed"
    ns = namespaces(k)["namespace0.0"]
    assert ns.mode == NamespaceMode.RAW and not ns.enabled and ns.size == 3968 * MiB
    again = plan_destroy(k, discover(k), DestroyRequest("namespace0.0", backend=backend))
    assert again.is_noop and "already raw and disabled" in again.already[0]


def test_destroy_an_idle_seed_is_no_change(machine, backend):
    k = machine("optane-2s")
    plan = plan_destroy(k, discover(k), DestroyRequest("namespace0.3", backend=backend))
    assert plan.is_noop and "not configured" in plan.already[0]


# -- data safety ----------------------------------------------------------------------


@pytest.mark.parametrize("source", ["/dev/pmem0", "by-number"])
def test_mounted_is_never_overridden(machine, backend, source):
    k = machine("optane-2s")
    majmin = k.read(discover(k).namespace("namespace0.0").path.rsplit("/", 1)[0] + "/pfn0.0/block/pmem0/dev")
    src = source if source.startswith("/") else "/dev/disk/by-label/db"
    mountinfo(k, f"40 22 {majmin} / /srv/db rw,relatime shared:1 - xfs {src} rw,dax=always")
    for req in (DestroyRequest("namespace0.0", backend=backend),
                NsReconfigureRequest("namespace0.0", "devdax", backend=backend)):
        planner = plan_destroy if isinstance(req, DestroyRequest) else plan_reconfigure_namespace
        plan = planner(k, discover(k), req)
        (check,) = [c for c in plan.refusals if c.name == "mounted"]
        assert check.override is None
        assert "/dev/pmem0 is mounted on /srv/db (xfs)" in check.message
        with pytest.raises(Refused, match="mounted on /srv/db"):
            run_plan(k, plan, opts(force=True))
    assert namespaces(k)["namespace0.0"].mode == NamespaceMode.FSDAX


def test_a_mounted_partition_counts(make_machine):
    k = make_machine("optane-2s")
    ns = discover(k).namespace("namespace0.2")
    part = k.host_path(ns.path + "/block/pmem0.2/pmem0.2p1")
    os.makedirs(part)
    with open(part + "/dev", "w") as fh:
        fh.write("259:9\n")
    mountinfo(k, "41 22 259:9 / /scratch rw - ext4 /dev/pmem0.2p1 rw")
    plan = plan_destroy(k, discover(k), DestroyRequest("namespace0.2", backend="sysfs"))
    assert any("/dev/pmem0.2p1 is mounted on /scratch" in c.message for c in plan.refusals)


def test_held_open_needs_force(machine, backend):
    k = machine("optane-2s")
    holders(k, {"pid": 4242, "name": "postgres", "path": "/dev/pmem0"})
    plan = plan_destroy(k, discover(k), DestroyRequest("namespace0.0", backend=backend))
    (check,) = plan.refusals
    assert check.name == "in-use" and check.override == "--force"
    assert "postgres (pid 4242) has /dev/pmem0 open" in check.message
    assert "under the programs that have it open (postgres pid 4242)" in plan.consent
    with pytest.raises(Refused, match="has /dev/pmem0 open") as info:
        run_plan(k, plan, opts())
    assert info.value.hint == "add --force to do it anyway"
    assert apply(k, plan, force=True).status == "changed"
    assert namespaces(k)["namespace0.0"].size == 0


def test_system_ram_online_needs_force_and_is_offlined_first(machine, backend):
    k = machine("optane-2s")
    plan = plan_destroy(k, discover(k), DestroyRequest("namespace0.1", backend=backend))
    (check,) = plan.refusals
    assert check.name == "system-ram" and check.override == "--force"
    assert "80 block(s) online (160G) on node 2" in check.message
    assert "160G of system RAM on node 2 will be taken away" in plan.consent
    kinds = [a.kind for a in plan.actions]
    assert kinds[:80] == ["offline-block"] * 80 and kinds[80:] == ["unbind", "wait-blocks-gone", "ns-destroy"]
    with pytest.raises(Refused, match="system RAM"):
        run_plan(k, plan, opts())
    out = apply(k, plan, force=True)
    assert out.status == "changed", out.message
    topo = discover(k)
    assert topo.dax_device("dax0.1") is None and "namespace0.1" not in {n.name for n in topo.namespaces}
    assert not [b for b in topo.blocks if b.node == 2]


def test_system_ram_offline_failure_rolls_back(make_machine):
    k = make_machine("optane-2s")
    faults.inject(k.root, "offline-busy", blocks=[150])
    plan = plan_destroy(k, discover(k), DestroyRequest("namespace0.1", backend="sysfs"))
    out = apply(k, plan, force=True)
    assert out.status == "rolled-back" and out.exit_code == ExitCode.ROLLED_BACK
    topo = discover(k)
    assert topo.namespace("namespace0.1").mode == NamespaceMode.DEVDAX
    assert sum(b.online for b in topo.blocks_of("dax0.1")) == 80


# -- selectors ----------------------------------------------------------------------


def test_ambiguous_and_unknown_selectors(make_machine):
    k = make_machine("optane-2s")
    for region in ("region0", "region1"):
        assert apply(k, create(k, region, "96M", "fsdax", "sysfs", name="tmp")).status == "changed"
    topo = discover(k)
    # one ambiguity error for every command: a usage error (exit 2)
    with pytest.raises(UsageError, match=r"'tmp' matches 2 namespaces: namespace0\.3.*namespace1\.2") as info:
        select_namespace(topo, "tmp")
    assert isinstance(info.value, AmbiguousSelector)
    assert "namespaceX.Y" in info.value.sentence()
    with pytest.raises(NotFound, match="no namespace .* named 'nope'"):
        select_namespace(topo, "nope")
    with pytest.raises(UsageError, match="matches 2 namespaces"):
        plan_reconfigure(k, topo, ReconfigureRequest("tmp", "system-ram"))


# -- namespace -> devdax -> system-ram as one plan ----------------------------------------


def test_reconfigure_namespace_to_system_ram(machine, backend):
    k = machine("qemu-nvdimm", stage="raw")
    plan = plan_reconfigure(k, discover(k), ReconfigureRequest("namespace0.0", "system-ram"))
    if backend == "ndctl":  # pmemctl reconfigure uses auto; make the namespace step run ndctl
        import dataclasses

        plan = dataclasses.replace(plan, actions=(dataclasses.replace(plan.actions[0], backend="ndctl"),)
                                   + plan.actions[1:])
    assert plan.title == "reconfigure namespace0.0 to system-ram (via devdax)"
    assert [a.kind for a in plan.actions[:4]] == ["ns-reconfigure", "unbind", "bind", "wait-blocks"]
    assert [a.index for a in plan.actions[4:]] == list(range(33, 63))
    assert plan.units == (("namespace0.0", 0, len(plan.actions)),)
    assert plan.destructive and "it becomes system RAM (dax0.0)" in plan.consent
    out = apply(k, plan)
    assert out.status == "changed", out.message
    topo = discover(k)
    dev = topo.dax_device("dax0.0")
    assert dev.mode == DaxMode.SYSTEM_RAM and dev.blocks == tuple(range(33, 63))
    assert all(b.online and b.zones == ("Movable",) for b in topo.blocks_of("dax0.0"))
    assert topo.node(1).mem_total == 3932160 * 1024


def test_reconfigure_namespace_to_system_ram_rolls_back_as_one(make_machine):
    k = make_machine("qemu-nvdimm", stage="raw")
    faults.inject(k.root, "bind-fail", driver="kmem", device="dax0.0", errno="ENXIO")
    plan = plan_reconfigure(k, discover(k), ReconfigureRequest("namespace0.0", "system-ram"))
    out = apply(k, plan)
    assert out.status == "rolled-back", out.message
    assert out.exit_code == ExitCode.ROLLED_BACK
    undone = [r.action.kind for r in out.results if r.status == "undone"]
    assert undone == ["bind", "ns-reconfigure"]  # device_dax back, then the namespace back to raw
    topo = discover(k)
    ns = topo.namespace("namespace0.0")
    assert ns.mode == NamespaceMode.RAW and ns.enabled and ns.blockdev == "pmem0"
    assert topo.dax_devices == ()
    assert "namespace0.0 is raw (enabled)" in " ".join(out.machine_state) or any(
        "namespace0.0 is raw" in line for line in out.machine_state)


def test_labelled_system_ram_rollback_restores_the_namespace(machine, backend):
    import dataclasses

    k = machine("optane-2s")
    before = discover(k).namespace("namespace1.0")
    faults.inject(k.root, "bind-fail", driver="kmem", device="dax1.0", errno="EINVAL")
    plan = plan_reconfigure(k, discover(k), ReconfigureRequest("namespace1.0", "system-ram"))
    plan = dataclasses.replace(plan, actions=(dataclasses.replace(plan.actions[0], backend=backend),)
                               + plan.actions[1:])
    out = apply(k, plan)
    assert out.status == "rolled-back", out.message
    ns = discover(k).namespace("namespace1.0")
    assert ns.mode == NamespaceMode.SECTOR and ns.enabled and ns.sector_size == 4096
    assert ns.uuid == before.uuid  # the inverse gives the label its old uuid back
    assert discover(k).dax_device("dax1.0") is None


def test_system_ram_selector_that_is_devdax_keeps_the_old_path(make_machine):
    k = make_machine("qemu-nvdimm", stage="devdax")
    plan = plan_reconfigure(k, discover(k), ReconfigureRequest("namespace0.0", "system-ram"))
    assert plan.title == "reconfigure dax0.0 to system-ram" and plan.actions[0].kind == "unbind"


def test_system_ram_of_a_mounted_fsdax_is_refused(make_machine):
    k = make_machine("optane-2s")
    mountinfo(k, "40 22 259:0 / /srv/db rw - xfs /dev/pmem0 rw")
    plan = plan_reconfigure(k, discover(k), ReconfigureRequest("db-log", "system-ram"))
    assert [c.name for c in plan.blocking({"--force"})] == ["mounted"]


# -- plans are data ---------------------------------------------------------------------


def test_namespace_actions_survive_the_journal(make_machine):
    k = make_machine("optane-2s")
    plan = plan_reconfigure(k, discover(k), ReconfigureRequest("namespace1.0", "system-ram"))
    data = json.loads(json.dumps(plan.to_dict()))
    again = Plan.from_dict(data)
    assert again.actions == plan.actions
    assert action_from_dict(plan.actions[0].to_dict()) == plan.actions[0]
    inverse = plan.actions[0].inverse()
    assert inverse.replan and inverse.mode == "sector" and inverse.from_mode == "devdax"


def test_backend_choice(make_machine):
    k = make_machine("optane-2s")
    assert choose_backend(k, "auto") == "sysfs"  # not the running machine
    assert choose_backend(k, "sysfs") == "sysfs"
    with pytest.raises(UsageError):
        choose_backend(k, "libndctl")
    from pmemctl.sysfs.door import SysfsRoot

    with pytest.raises(Unsupported, match="only works on the running machine"):
        choose_backend(SysfsRoot(k.root), "ndctl")


def test_the_process_check_finds_a_device_opened_under_another_path(tmp_path):
    """The running machine's check (door.processes_using) matches by device number,
    not only by path: a process in a container, or one that opened a
    /dev/disk/by-* link, shows another path for the same block device."""
    import stat as _stat
    import subprocess
    import time

    from pmemctl.sysfs.door import SysfsRoot

    if os.geteuid() != 0:
        pytest.skip("mknod needs root")
    node = tmp_path / "null-elsewhere"
    try:
        os.mknod(node, _stat.S_IFCHR | 0o600, os.stat("/dev/null").st_rdev)
    except OSError as err:
        pytest.skip(f"cannot mknod here: {err}")
    proc = subprocess.Popen(["sh", "-c", f"exec 3<{node}; exec sleep 30"])
    try:
        for _ in range(100):
            if any(os.path.realpath(f"/proc/{proc.pid}/fd/{fd}") == str(node)
                   for fd in os.listdir(f"/proc/{proc.pid}/fd")):
                break
            time.sleep(0.02)
        users = SysfsRoot("/").processes_using("/dev/null")
        assert proc.pid in [pid for pid, _ in users]
    finally:
        proc.kill()
        proc.wait()


def test_system_ram_reconfigure_failure_gives_the_memory_back(make_machine):
    """The new personality fails after kmem let go: the step sets the namespace
    up as devdax again, which binds its dax device to device_dax; the undo of
    the detach takes it from device_dax and gives it to kmem, and the blocks
    come back online (found by the layout's allow_destroy tests: the undo used
    to stop at "bound to device_dax, not kmem", exit 7)."""
    k = make_machine("optane-2s")
    faults.inject(k.root, "bind-fail", driver="nd_pmem", device="pfn0.1", errno="EINVAL")
    before = sum(b.online for b in discover(k).blocks_of("dax0.1"))
    plan = plan_reconfigure_namespace(k, discover(k), NsReconfigureRequest("namespace0.1", "fsdax",
                                                                                       backend="sysfs"))
    out = apply(k, plan, force=True)
    assert out.status == "rolled-back" and out.exit_code == ExitCode.ROLLED_BACK, out.message
    topo = discover(k)
    assert topo.dax_device("dax0.1").mode == DaxMode.SYSTEM_RAM
    assert sum(b.online for b in topo.blocks_of("dax0.1")) == before > 0
    assert "dax0.1 is bound to kmem (system-ram)" in out.machine_state
