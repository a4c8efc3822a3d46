"""Scenario loading: names, parameters, schema errors, resolution facts."""

from __future__ import annotations

import json

import pytest

from pmemctl.errors import ExitCode, NotFound, UsageError
from pmemctl.sim import list_scenarios, load_scenario
from pmemctl.sim.cases import ALL_CASES, Case
from pmemctl.sim.machine import MachineSpec
from pmemctl.sim.scenario import ScenarioError, default_region_align, scenario_from_toml

SHIPPED = {"qemu-nvdimm", "optane-2s", "cxl-hmem", "big"}


def test_list_scenarios_has_the_shipped_ones() -> None:
    infos = {info.name: info for info in list_scenarios()}
    assert SHIPPED <= set(infos)
    for info in infos.values():
        assert info.summary and "\n" not in info.summary
    stage = {p.name: p for p in infos["qemu-nvdimm"].params}["stage"]
    assert stage.default == "raw" and stage.choices == ("raw", "labelled", "devdax", "system-ram")


def test_unknown_scenario_is_not_found_with_one_line_listing_known() -> None:
    with pytest.raises(NotFound) as err:
        load_scenario("no-such-machine")
    message = err.value.sentence()
    assert "\n" not in message
    assert "no-such-machine" in message
    for name in SHIPPED:
        assert name in message
    assert err.value.exit_code == ExitCode.NOT_FOUND


@pytest.mark.parametrize(
    ("name", "params", "fragment"),
    [
        ("qemu-nvdimm", {"stage": "bogus"}, "must be one of"),
        ("qemu-nvdimm", {"colour": "red"}, "no parameter 'colour'"),
        ("optane-2s", {"stage": "raw"}, "no parameter 'stage'"),
        ("big", {"blocks": "many"}, "not an integer"),
        ("big", {"blocks": "10"}, "out of range"),
        ("cxl-hmem", {"kind": "nvme"}, "must be one of"),
    ],
)
def test_bad_parameter_is_usage_error(name: str, params: dict[str, str], fragment: str) -> None:
    with pytest.raises(UsageError) as err:
        load_scenario(name, params)
    assert fragment in err.value.message
    assert err.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_machine_round_trips_through_json(case: Case) -> None:
    machine = case.load().machine
    again = MachineSpec.from_dict(json.loads(json.dumps(machine.to_dict())))
    assert again == machine


def test_params_default_and_echo() -> None:
    scenario = load_scenario("qemu-nvdimm")
    assert scenario.params == {"stage": "raw"}
    assert load_scenario("big", {"blocks": "0x1000"}).params == {"blocks": "4096"}


MINIMAL = """
summary = "tiny"
[memory]
block_size = "128M"
[[numa.node]]
id = 0
cpus = "0"
dram = ["0x0-0x3fffffff"]
"""


def test_minimal_scenario_and_defaults() -> None:
    m = scenario_from_toml("tiny", MINIMAL).machine
    assert [b.index for b in m.blocks] == list(range(8))
    assert m.auto_online_blocks == "offline"
    assert m.possible_nodes == (0,) and m.distance == ((10,),)
    assert m.memory_tiers() == {4: [0]}


def test_memhp_default_state_sets_auto_online_policy() -> None:
    text = MINIMAL + '[kernel]\ncmdline = "quiet memhp_default_state=online_movable"\n'
    assert scenario_from_toml("tiny", text).machine.auto_online_blocks == "online_movable"


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ('[[hmem]]\nstart = "0x100000000"\nsize = "1G"\ntarget_node = 7\n', "target_node 7"),
        (
            '[[numa.node]]\nid = 1\n[[hmem]]\nstart = "0x100000000"\nsize = "64M"\ntarget_node = 1\ndriver = "kmem"\n',
            "no memory after block alignment",
        ),
        (
            '[[numa.node]]\nid = 1\n[[hmem]]\nstart = "0x0"\nsize = "1G"\ntarget_node = 1\ndriver = "kmem"\n',
            "overlaps",
        ),
        (
            (
                '[[numa.node]]\nid = 1\n[[hmem]]\nstart = "0x100000000"\nsize = "1G"\ntarget_node = 1\n'
                'driver = "kmem"\nmemory = [{ blocks = 9 }]\n'
            ),
            "cover more than",
        ),
        (
            (
                '[[numa.node]]\nid = 1\n[[hmem]]\nstart = "0x100000000"\nsize = "1G"\ntarget_node = 1\n'
                'driver = "kmem"\nmemory = [{ zone = "DMA" }]\n'
            ),
            "Movable or Normal",
        ),
        ('[[hmem]]\nstart = "0x100000000"\nsize = "1G"\ntarget_node = 0\ndriver = "bogus"\n', "driver"),
        ('[[hmem]]\nstart = "0x100000000"\nsize = "${nope}"\ntarget_node = 0\n', "unknown variable"),
    ],
)
def test_inconsistent_scenario_is_a_scenario_error(extra: str, fragment: str) -> None:
    with pytest.raises(ScenarioError) as err:
        scenario_from_toml("tiny", MINIMAL + extra)
    assert fragment in str(err.value)


def test_region_align_default() -> None:
    assert default_region_align(3968 * 2**20, 1) == 16 * 2**20
    assert default_region_align(384 * 2**30, 3) == 48 * 2**20
    assert default_region_align(8 * 2**20, 1) == 4096


# -- resolved facts of the shipped scenarios ---------------------------------------


def test_qemu_nvdimm_stages_resolve_to_the_lab_numbers() -> None:
    raw = load_scenario("qemu-nvdimm").machine
    assert raw.dax_devices == ()
    (ns,) = raw.namespaces()
    assert (ns.mode, ns.size, ns.resource, ns.nstype, ns.blockdev) == ("raw", 4160749568, 0x100000000, 4, "pmem0")
    assert [b.index for b in raw.blocks] == list(range(16))
    assert raw.online_nodes() == [0] and raw.possible_nodes == (0, 1)

    devdax = load_scenario("qemu-nvdimm", {"stage": "devdax"}).machine
    (dev,) = devdax.dax_devices
    assert (dev.name, dev.size, dev.resource, dev.target_node, dev.numa_node, dev.driver) == (
        "dax0.0", 4_093_640_704, 0x104000000, 1, 0, "device_dax"
    )
    assert devdax.online_nodes() == [0]

    ram = load_scenario("qemu-nvdimm", {"stage": "system-ram"}).machine
    (dev,) = ram.dax_devices
    assert dev.driver == "kmem" and dev.blocks == tuple(range(33, 63))
    assert dev.hotplug_ranges == ((0x108000000, 0x1F8000000),)
    kmem_blocks = ram.blocks_of("dax0.0")
    assert all(b.online and b.zone == "Movable" and b.node == 1 for b in kmem_blocks) and len(kmem_blocks) == 30
    assert ram.online_nodes() == [0, 1]
    assert ram.memory_tiers() == {4: [0], 22: [1]}


def test_optane_2s_mix() -> None:
    m = load_scenario("optane-2s").machine
    modes = {ns.name: ns.mode for ns in m.namespaces() if not ns.seed}
    assert modes == {
        "namespace0.0": "fsdax", "namespace0.1": "devdax", "namespace0.2": "raw",
        "namespace1.0": "sector", "namespace1.1": "devdax",
    }
    ram = m.dax_device("dax0.1")
    assert ram is not None and ram.driver == "kmem" and ram.target_node == 2
    states = [b.online for b in m.blocks_of("dax0.1")]
    assert 0 < states.count(False) < len(states)
    assert m.memory_tiers() == {4: [0, 1], 22: [2]}
    assert m.online_nodes() == [0, 1, 2]
    assert {r.name: r.mappings.__len__() for r in m.regions()} == {"region0": 3, "region1": 3}


def test_big_counts_scale_with_the_parameter() -> None:
    for blocks in (512, 4096):
        m = load_scenario("big", {"blocks": str(blocks)}).machine
        assert len(m.blocks) == blocks
        zones = {b.valid_zones for b in m.blocks if b.node == 1}
        assert {"Movable", "Normal", "Movable Normal", "Normal Movable"} <= zones
