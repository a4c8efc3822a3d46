"""The one selector grammar (pmemctl/ops/select.py), rule by rule, on simulated machines.

optane-2s as shipped (region0: namespace0.0 fsdax 'db-log' /dev/pmem0,
namespace0.1 devdax -> dax0.1 system-ram, namespace0.2 raw /dev/pmem0.2,
seed namespace0.3; region1: namespace1.0 sector /dev/pmem1s, namespace1.1
devdax -> dax1.1, seed namespace1.2), plus the names of issue 9: three
namespaces named 'dup' (namespace0.1, namespace0.2, namespace1.1) and the
unconfigured seed namespace0.3 keeping the alt_name 'ghost'.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmemctl.commandline import command_line
from pmemctl.errors import ExitCode, NotFound, PmemctlError, Refused, UsageError
from pmemctl.model.discover import discover
from pmemctl.model.records import Topology
from pmemctl.ops import select as S
from pmemctl.sim.build import materialise
from pmemctl.sim.scenario import load_scenario
from pmemctl.sysfs.door import SysfsRoot

NS0_1_UUID = "78bc899e-4a6e-5859-84ba-3dd6690d1206"  # label uuid of namespace0.1
NS0_1_HOLDER = "82f541b2-1671-546f-8007-a6782a76f756"  # its dax info-block uuid
NS0_0_UUID = "67047968-7013-51f4-92bd-4297718e5117"  # namespace0.0 (fsdax)
DEVICE_NOT_FOUND = "no dax device (by name, namespace, uuid, alt_name or address) named {!r}; known: dax0.1, dax1.1"
NAMESPACE_NOT_FOUND = (
    "no namespace (by namespaceX.Y, uuid or name) named {!r}; known: namespace0.0 (db-log), "
    "namespace0.1 (dup), namespace0.2 (dup), namespace1.0, namespace1.1 (dup)"
)


def _build(root: Path, scenario: str, names: Optional[dict[str, str]] = None, **params: str) -> Topology:
    materialise(load_scenario(scenario, params), root)
    door = SysfsRoot(root)
    for ns, name in (names or {}).items():
        topo = discover(door, with_blocks=False)
        path = topo.namespace(ns).path  # type: ignore[union-attr]
        with open(door.host_path(path + "/alt_name"), "w") as fh:
            fh.write(name + "\n")
    return discover(door)


#: sysfs lives in memory: build the trees on tmpfs where there is one (as tests/ops/conftest.py)
_SHM = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def _scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pmemctl-select-", dir=_SHM))
    yield path
    shutil.rmtree(path, ignore_errors=True)


scratch = pytest.fixture(_scratch)
module_scratch = pytest.fixture(_scratch, scope="module", name="module_scratch")


@pytest.fixture(scope="module")
def topo(module_scratch: Path) -> Topology:
    names = {"namespace0.1": "dup", "namespace0.2": "dup", "namespace1.1": "dup", "namespace0.3": "ghost"}
    return _build(module_scratch / "optane", "optane-2s", names)


@pytest.fixture(scope="module")
def hmem(module_scratch: Path) -> Topology:
    return _build(module_scratch / "hmem", "cxl-hmem")


def test_the_tree_is_what_the_tests_assume(topo: Topology) -> None:
    by_name = {n.name: n for n in topo.namespaces}
    assert by_name["namespace0.3"].size == 0 and by_name["namespace0.3"].alt_name == "ghost"
    assert [n.name for n in topo.namespaces if n.alt_name == "dup"] == ["namespace0.1", "namespace0.2", "namespace1.1"]
    assert by_name["namespace0.1"].uuid == NS0_1_UUID and by_name["namespace0.1"].holder_uuid == NS0_1_HOLDER
    assert by_name["namespace0.0"].uuid == NS0_0_UUID and by_name["namespace0.0"].blockdev == "pmem0"
    assert {d.name: d.target_node for d in topo.dax_devices} == {"dax0.1": 2, "dax1.1": 3}
    assert topo.dax_device("dax0.1").ranges()[0][0] == 0x38C0200000  # type: ignore[union-attr]


# -- the grammar, rule by rule ----------------------------------------------------------------

DEVICE_CASES = [
    # selector, rule, devices, how (the planner's "selected ..." note)
    ("all", "all", ["dax0.1", "dax1.1"], "all dax devices"),
    ("dax0.1", "device", ["dax0.1"], "dax0.1"),
    ("/dev/dax1.1", "device", ["dax1.1"], "dax1.1"),
    ("/sys/bus/dax/devices/dax1.1", "device", ["dax1.1"], "dax1.1"),
    ("0.1", "short", ["dax0.1"], "dax0.1"),
    (" 1.1\n", "short", ["dax1.1"], "dax1.1"),
    ("namespace0.1", "namespace", ["dax0.1"], "namespace0.1 -> dax0.1"),
    (NS0_1_UUID, "uuid", ["dax0.1"], f"uuid {NS0_1_UUID} -> dax0.1"),
    (NS0_1_HOLDER.upper(), "uuid", ["dax0.1"], f"uuid {NS0_1_HOLDER} -> dax0.1"),
    ("0x38c0200000", "address", ["dax0.1"], "address 0x38c0200000 -> dax0.1"),
    ("0x38c0200000-0x38c03fffff", "address", ["dax0.1"], "address 0x38c0200000-0x38c03fffff -> dax0.1"),
    ("node2", "node", ["dax0.1"], "node 2 -> dax0.1"),
    ("node3", "node", ["dax1.1"], "node 3 -> dax1.1"),
]


@pytest.mark.parametrize("selector,rule,devices,how", DEVICE_CASES, ids=[c[0].strip() for c in DEVICE_CASES])
def test_device_rules(topo: Topology, selector: str, rule: str, devices: list[str], how: str) -> None:
    s = S.resolve(topo, selector, want="device")
    assert (s.by, [d.name for d in s.devices], s.how) == (rule, devices, how)
    assert S.select_devices(topo, selector) == (list(s.devices), how)
    # the other side is filled too: the devices' namespaces
    assert [n.name for n in s.namespaces] == [d.namespace for d in s.devices]


NAMESPACE_CASES = [
    # selector, rule, namespace, how
    ("namespace0.0", "namespace", "namespace0.0", "namespace0.0"),
    ("namespace0.3", "namespace", "namespace0.3", "namespace0.3"),  # by name even unconfigured
    ("0.0", "short", "namespace0.0", "namespace0.0"),
    ("dax0.1", "device", "namespace0.1", "dax0.1 -> namespace0.1"),
    ("/dev/dax1.1", "device", "namespace1.1", "dax1.1 -> namespace1.1"),
    ("/dev/pmem0", "blockdev", "namespace0.0", "/dev/pmem0 -> namespace0.0"),
    ("/dev/pmem0.2", "blockdev", "namespace0.2", "/dev/pmem0.2 -> namespace0.2"),
    ("/dev/pmem1s", "blockdev", "namespace1.0", "/dev/pmem1s -> namespace1.0"),
    (NS0_0_UUID.upper(), "uuid", "namespace0.0", f"uuid {NS0_0_UUID} -> namespace0.0"),
    (NS0_1_HOLDER, "uuid", "namespace0.1", f"uuid {NS0_1_HOLDER} -> namespace0.1"),
    ("db-log", "alt_name", "namespace0.0", "name 'db-log' -> namespace0.0"),
    ("0x2000000000", "address", "namespace0.0", "address 0x2000000000 -> namespace0.0"),  # fsdax: no dax device
]


@pytest.mark.parametrize("selector,rule,name,how", NAMESPACE_CASES, ids=[c[0] for c in NAMESPACE_CASES])
def test_namespace_rules(topo: Topology, selector: str, rule: str, name: str, how: str) -> None:
    s = S.resolve(topo, selector, want="namespace")
    assert (s.by, [n.name for n in s.namespaces], s.how) == (rule, [name], how)
    assert S.select_namespace(topo, selector).name == name
    assert [n.name for n in S.match_namespaces(topo, selector)] == [name]


def test_short_form_follows_the_command(topo: Topology) -> None:
    assert [d.name for d in S.resolve(topo, "1.1", "device").devices] == ["dax1.1"]
    assert S.resolve(topo, "1.1", "namespace").namespaces[0].name == "namespace1.1"
    # 0.0 has no dax device (namespace0.0 is fsdax; the devdax one is dax0.1)
    with pytest.raises(NotFound, match=r"named '0\.0'"):
        S.select_devices(topo, "0.0")
    assert S.select_namespace(topo, "0.0").name == "namespace0.0"


def test_namespace_rules_on_a_device_command_select_its_dax_device(topo: Topology) -> None:
    s = S.resolve(topo, "namespace1.1", "device")
    assert [d.name for d in s.devices] == ["dax1.1"] and [n.name for n in s.namespaces] == ["namespace1.1"]
    # a name, a uuid or a block device of a namespace without a dax device: refused, as by its name
    for sel, ns, mode in (("db-log", "namespace0.0", "fsdax"), (NS0_0_UUID, "namespace0.0", "fsdax"),
                          ("/dev/pmem1s", "namespace1.0", "sector"), ("namespace0.2", "namespace0.2", "raw")):
        s = S.resolve(topo, sel, "device")
        assert s.devices == () and [n.name for n in s.namespaces] == [ns]
        with pytest.raises(Refused) as info:
            S.select_devices(topo, sel)
        assert info.value.sentence() == (f"{ns} is in {mode} mode and has no dax device; "
                                         "make it devdax first: " + command_line(
                                             "namespace", "reconfigure", ns, "--mode", "devdax",
                                             sysroot=topo.sysroot))
        assert info.value.exit_code == ExitCode.REFUSED


# -- ambiguity: one error for every command ----------------------------------------------------

DUP_MESSAGE = (
    "'dup' matches 3 namespaces: "
    f"namespace0.1 (region0, 192G devdax, uuid {NS0_1_UUID}); "
    "namespace0.2 (region0, 48G raw, uuid aa93571a-5c08-5355-8369-38ad71db4ba3); "
    "namespace1.1 (region1, 96G devdax, uuid 3277e9f8-2374-5c2f-8da6-e7fa1ae3becf)"
)


@pytest.mark.parametrize("want", ["device", "namespace"])
def test_dup_is_ambiguous_for_every_command(topo: Topology, want: S.Want) -> None:
    with pytest.raises(S.AmbiguousSelector) as info:
        S.resolve(topo, "dup", want)
    err = info.value
    assert isinstance(err, UsageError) and err.exit_code == ExitCode.USAGE == 2
    assert err.message == DUP_MESSAGE
    assert err.hint == "select one by its namespaceX.Y name or its uuid"
    assert [c.name for c in err.candidates] == ["namespace0.1", "namespace0.2", "namespace1.1"]


def test_dup_through_the_thin_functions(topo: Topology) -> None:
    for call in (S.select_devices, S.select_namespace):
        with pytest.raises(S.AmbiguousSelector) as info:
            call(topo, "dup")  # type: ignore[operator]
        assert info.value.sentence() == DUP_MESSAGE + "; select one by its namespaceX.Y name or its uuid"
    # match_namespaces lists them and leaves the refusal to its caller
    assert [n.name for n in S.match_namespaces(topo, "dup")] == ["namespace0.1", "namespace0.2", "namespace1.1"]
    # each is reachable by its name or uuid
    assert S.select_devices(topo, "namespace1.1") == ([topo.dax_device("dax1.1")], "namespace1.1 -> dax1.1")


def test_a_namespace_command_on_several_namespaces_is_ambiguous(topo: Topology) -> None:
    with pytest.raises(S.AmbiguousSelector, match=r"^'node3' matches 2 namespaces: namespace1\.0 .*namespace1\.1"):
        S.select_namespace(topo, "node3")
    with pytest.raises(S.AmbiguousSelector, match=r"^'all' matches 5 namespaces"):
        S.select_namespace(topo, "all")


# -- uuid ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [NS0_1_UUID, NS0_1_UUID.upper(), NS0_1_HOLDER.upper(), f"  {NS0_1_UUID.title()}  "])
def test_uuid_in_any_case(topo: Topology, text: str) -> None:
    s = S.resolve(topo, text, "device")
    assert s.by == "uuid" and [d.name for d in s.devices] == ["dax0.1"]
    assert s.how == f"uuid {text.strip().lower()} -> dax0.1"
    assert S.select_namespace(topo, text).name == "namespace0.1"


def test_unknown_uuid_is_not_found(topo: Topology) -> None:
    other = "11111111-2222-3333-4444-555555555555"
    with pytest.raises(NotFound) as info:
        S.select_devices(topo, other)
    assert info.value.sentence() == DEVICE_NOT_FOUND.format(other)


# -- alt names ----------------------------------------------------------------------------------


def test_alt_names_are_exact(topo: Topology) -> None:
    assert S.select_namespace(topo, "db-log").name == "namespace0.0"
    for near in ("DB-LOG", "db-lo", "Dup"):
        with pytest.raises(NotFound) as info:
            S.select_namespace(topo, near)
        assert info.value.sentence() == NAMESPACE_NOT_FOUND.format(near)


def test_a_deleted_namespace_keeping_its_alt_name_does_not_match(topo: Topology) -> None:
    ghost = topo.namespace("namespace0.3")
    assert ghost is not None and ghost.size == 0 and ghost.alt_name == "ghost"
    assert S.match_namespaces(topo, "ghost") == []
    with pytest.raises(NotFound) as info:
        S.select_namespace(topo, "ghost")
    assert info.value.sentence() == NAMESPACE_NOT_FOUND.format("ghost")
    with pytest.raises(NotFound) as info:
        S.select_devices(topo, "ghost")
    assert info.value.sentence() == DEVICE_NOT_FOUND.format("ghost")


def test_a_destroyed_namespace_loses_its_name(scratch: Path) -> None:
    """The real destroy (sysfs backend) leaves namespace0.0 of size 0 with its alt_name."""
    from pmemctl.ops.executor import ApplyOptions
    from pmemctl.ops.plan.namespace import plan_destroy
    from pmemctl.ops.requests import DestroyRequest
    from pmemctl.ops.services import RunOptions, run_plan
    from pmemctl.sim.kernel import SimulatedKernel

    materialise(load_scenario("optane-2s"), scratch / "m")
    k = SimulatedKernel(scratch / "m")
    before = discover(k)
    assert S.select_namespace(before, "db-log").name == "namespace0.0"
    plan = plan_destroy(k, before, DestroyRequest("db-log", backend="sysfs"))
    opts = RunOptions(yes=True, apply=ApplyOptions(offline_timeout=2, wait_timeout=2))  # type: ignore[call-arg]
    assert run_plan(k, plan, opts).outcome.status == "changed"
    after = discover(k)
    ns = after.namespace("namespace0.0")
    assert ns is not None and ns.size == 0
    with pytest.raises(NotFound, match="named 'db-log'"):
        S.select_namespace(after, "db-log")
    assert S.match_namespaces(after, "db-log") == []


# -- addresses ----------------------------------------------------------------------------------


def test_address_inside_and_outside(topo: Topology) -> None:
    dax01 = topo.dax_device("dax0.1")
    assert dax01 is not None
    start, end = dax01.ranges()[0]  # end exclusive
    assert [d.name for d in S.select_devices(topo, hex(start))[0]] == ["dax0.1"]
    assert [d.name for d in S.select_devices(topo, hex(end - 1))[0]] == ["dax0.1"]
    assert [d.name for d in S.select_devices(topo, f"{hex(start)}-{hex(end - 1)}")[0]] == ["dax0.1"]
    for outside in (hex(end), hex(start - 1), f"{hex(start)}-{hex(end)}", "0x10"):
        with pytest.raises(NotFound) as info:
            S.select_devices(topo, outside)
        assert info.value.sentence() == DEVICE_NOT_FOUND.format(outside)
    # a namespace command: inside a namespace's extent (the fsdax one has no dax device)
    assert S.select_namespace(topo, "0x2000000000").name == "namespace0.0"
    with pytest.raises(NotFound) as info:
        S.select_namespace(topo, "0x10")
    assert info.value.sentence() == NAMESPACE_NOT_FOUND.format("0x10")


def test_an_address_range_that_ends_before_it_starts(topo: Topology) -> None:
    for want in ("device", "namespace"):
        with pytest.raises(UsageError, match=r"the address range 0x2000-0x1000 ends before it starts"):
            S.resolve(topo, "0x2000-0x1000", want)  # type: ignore[arg-type]


# -- nodes --------------------------------------------------------------------------------------


def test_nodes(topo: Topology) -> None:
    assert S.select_devices(topo, "node2") == ([topo.dax_device("dax0.1")], "node 2 -> dax0.1")
    s = S.resolve(topo, "node3", "namespace")
    assert (s.by, [n.name for n in s.namespaces], [d.name for d in s.devices]) == (
        "node", ["namespace1.0", "namespace1.1"], ["dax1.1"])
    assert s.how == "node 3 -> namespace1.0, namespace1.1"
    with pytest.raises(NotFound) as info:
        S.select_devices(topo, "node0")  # DRAM only
    assert info.value.sentence() == "no dax device has target_node 0; dax devices: dax0.1 on node2, dax1.1 on node3"
    with pytest.raises(NotFound) as info:
        S.select_namespace(topo, "node7")
    assert info.value.sentence() == "no configured namespace has target_node 7; namespaces are on: node2, node3"
    with pytest.raises(NotFound, match="named 'node-2'"):
        S.select_devices(topo, "node-2")


# -- block devices ------------------------------------------------------------------------------


def test_block_devices(topo: Topology) -> None:
    assert S.select_namespace(topo, "/dev/pmem0").name == "namespace0.0"
    with pytest.raises(Refused, match="namespace0.0 is in fsdax mode and has no dax device"):
        S.select_devices(topo, "/dev/pmem0")
    for missing in ("/dev/pmem9", "/dev/pmem0.1", "pmem0"):  # devdax namespace0.1 has no block device
        with pytest.raises(NotFound) as info:
            S.select_namespace(topo, missing)
        assert info.value.sentence() == NAMESPACE_NOT_FOUND.format(missing)


# -- not found: today's messages ----------------------------------------------------------------


@pytest.mark.parametrize("selector", ["dax9.9", "9.9", "/dev/dax7.0", "namespace7.7", "nothing-like-this"])
def test_device_not_found(topo: Topology, selector: str) -> None:
    with pytest.raises(NotFound) as info:
        S.select_devices(topo, selector)
    assert info.value.sentence() == DEVICE_NOT_FOUND.format(selector)
    assert info.value.exit_code == ExitCode.NOT_FOUND


@pytest.mark.parametrize("selector", ["namespace7.7", "7.7", "nope", "dax9.9", " nope "])
def test_namespace_not_found(topo: Topology, selector: str) -> None:
    with pytest.raises(NotFound) as info:
        S.select_namespace(topo, selector)
    assert info.value.sentence() == NAMESPACE_NOT_FOUND.format(selector)  # the selector as given
    assert S.match_namespaces(topo, selector) == []


def test_regions(topo: Topology) -> None:
    for sel in ("1", "region1", " region1 "):
        assert S.select_region(topo, sel).name == "region1"
    assert S.select_region(topo, "0").name == "region0"
    for sel in ("region7", "7", "r1", ""):
        with pytest.raises(NotFound) as info:
            S.select_region(topo, sel)
        assert info.value.sentence() == f"no region named {sel!r}; known: region0, region1"


def test_all_with_nothing_there(scratch: Path) -> None:
    raw = _build(scratch / "raw", "qemu-nvdimm", stage="raw")  # one raw namespace, no dax device
    with pytest.raises(NotFound) as info:
        S.select_devices(raw, "all")
    assert info.value.sentence() == (f"there are no dax devices; run '{command_line('list', sysroot=raw.sysroot)}' "
                                     "to see namespaces that could become one")
    labelled = _build(scratch / "labelled", "qemu-nvdimm", stage="labelled")  # only the idle seed
    with pytest.raises(NotFound, match="there are no configured namespaces"):
        S.select_namespace(labelled, "all")


def test_a_dax_device_without_a_namespace(hmem: Topology) -> None:
    dev = hmem.dax_devices[0]
    assert dev.namespace is None and dev.source == "hmem"
    assert S.select_devices(hmem, dev.name) == ([dev], dev.name)
    s = S.resolve(hmem, dev.name, "namespace")
    assert (s.by, s.devices, s.namespaces, s.how) == ("device", (dev,), (), dev.name)
    assert S.match_namespaces(hmem, dev.name) == []
    with pytest.raises(NotFound) as info:
        S.select_namespace(hmem, dev.name)
    assert info.value.sentence() == (f"{dev.name} is a hmem dax device and has no namespace; "
                                     "namespace commands act on NVDIMM namespaces: see "
                                     f"'{command_line('list', sysroot=hmem.sysroot)}'")


def test_ambiguous_devices_without_namespaces_list_the_devices(hmem: Topology) -> None:
    dev = hmem.dax_devices[0]
    err = S.AmbiguousSelector("0x1", [dev, dev])
    assert err.message.startswith(f"'0x1' matches 2 dax devices: {dev.name} (hmem, ")
    assert err.exit_code == ExitCode.USAGE


# -- any text -----------------------------------------------------------------------------------

_FRAGMENTS = ["all", "dax", "namespace", "region", "node", "/dev/", "/dev/pmem", "pmem", "0x", "-", ".", "s",
              "0", "1", "2", "9", "3f", "dup", "db-log", "ghost", NS0_1_UUID, NS0_1_HOLDER.upper(), " ", "\n", "/"]
_TEXT = st.one_of(st.text(), st.lists(st.sampled_from(_FRAGMENTS), max_size=6).map("".join))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_TEXT)
def test_any_text_gives_a_selection_or_a_pmemctl_error(topo: Topology, hmem: Topology, text: str) -> None:
    for machine in (topo, hmem):
        for want in ("device", "namespace"):
            try:
                s = S.resolve(machine, text, want)  # type: ignore[arg-type]
            except PmemctlError:
                continue
            assert s.by in S.RULES and s.how
            assert s.devices or s.namespaces
        for call in (S.select_devices, S.select_namespace, S.select_region, S.match_namespaces):
            try:
                call(machine, text)  # type: ignore[operator]
            except PmemctlError:
                pass
