"""``pmemctl topology``: nodes, distances, tiers, HMAT and node lists vs the scenario."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from cli_scenarios import cases
from cli_support import Invoke, check_schema, machine, one_line, run_json

from pmemctl.errors import ExitCode
from pmemctl.units import format_cpulist


def _access(a: Any) -> Any:
    if a is None:
        return None
    return {
        "initiators": list(a.initiators),
        "read_latency_ns": a.read_latency,
        "write_latency_ns": a.write_latency,
        "read_bandwidth_mib_s": a.read_bandwidth,
        "write_bandwidth_mib_s": a.write_bandwidth,
    }


@cases
def test_json_matches_the_scenario(
    invoke: Invoke, scenario_tree: Callable[..., Path], case: tuple[str, dict[str, Any]]
) -> None:
    tree = scenario_tree(case[0], **case[1])
    m = machine(tree)
    doc = run_json(invoke, "--sysroot", tree, "topology", "--json")
    seen = check_schema(doc)
    assert seen["node"] == len(m.online_nodes()) > 0
    assert doc["command"] == "topology" and doc["sysroot"] == str(tree)
    assert doc["possible_nodes"] == list(m.possible_nodes)
    assert [n["id"] for n in doc["nodes"]] == m.online_nodes()
    online = m.online_nodes()
    for got in doc["nodes"]:
        node = m.node(got["id"])
        assert got["cpus"] == list(node.cpus)
        assert got["distances"] == {str(j): m.distance_between(node.id, j) for j in online}
        assert got["access0"] == _access(node.access0)
        assert got["access1"] == _access(node.access1)
        blocks = [b for b in m.blocks if b.node == node.id]
        assert got["blocks_total"] == len(blocks)
        assert got["blocks_online"] == sum(b.online for b in blocks)
        assert got["has_memory"] == (node.id in m.nodes_with_online_memory())
        assert got["has_normal_memory"] == (node.id in m.nodes_with_normal_memory())
        assert got["evidence"], "every node kind comes with its evidence"
        if node.cpus and node.dram:
            assert got["kind"] == "dram"
    tiers = m.memory_tiers()
    assert [(t["id"], t["nodes"]) for t in doc["tiers"]] == [(t, ns) for t, ns in tiers.items()]
    for got in doc["nodes"]:
        assert got["memory_tier"] == next((t for t, ns in tiers.items() if got["id"] in ns), None)
    assert doc["node_lists"]["all_memory"] == format_cpulist(m.nodes_with_online_memory())
    assert doc["policy"]["block_size"] == m.block_size


@pytest.mark.parametrize(
    "scenario,params,kind,lists",
    [
        ("qemu-nvdimm", {"stage": "system-ram"}, "pmem", {"dram": "0", "pmem": "1", "cxl": "", "all_memory": "0-1"}),
        (
            "cxl-hmem",
            {"kind": "hmem", "mode": "system-ram"},
            "cxl",
            {"dram": "0", "pmem": "", "cxl": "1", "all_memory": "0-1"},
        ),
        (
            "cxl-hmem",
            {"kind": "cxl", "mode": "system-ram"},
            "cxl",
            {"dram": "0", "pmem": "", "cxl": "1", "all_memory": "0-1"},
        ),
        ("optane-2s", {}, "pmem", {"dram": "0-1", "pmem": "2", "cxl": "", "all_memory": "0-2"}),
    ],
)
def test_node_kinds_and_lists(
    invoke: Invoke,
    scenario_tree: Callable[..., Path],
    scenario: str,
    params: dict[str, str],
    kind: str,
    lists: dict[str, str],
) -> None:
    tree = scenario_tree(scenario, **params)
    m = machine(tree)
    doc = run_json(invoke, "--sysroot", tree, "topology", "--json")
    kmem_nodes = {d.target_node for d in m.dax_devices if d.driver == "kmem"}
    for node in doc["nodes"]:
        assert node["kind"] == (kind if node["id"] in kmem_nodes else "dram")
        if node["id"] in kmem_nodes:
            assert any("kmem" in e for e in node["evidence"])
    assert doc["node_lists"] == lists
    text = invoke("--sysroot", tree, "topology").stdout
    assert f"DRAM only:  numactl --membind={lists['dram']}\n" in text
    assert f"All memory: numactl --membind={lists['all_memory']}\n" in text


def test_devdax_only_machine_has_one_memory_node(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    doc = run_json(invoke, "--sysroot", scenario_tree("qemu-nvdimm", stage="devdax"), "topology", "--json")
    assert [n["id"] for n in doc["nodes"]] == [0]
    assert doc["node_lists"]["all_memory"] == "0"


def test_warnings(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    tree = scenario_tree("qemu-nvdimm", stage="system-ram")
    doc = run_json(invoke, "--sysroot", tree, "topology", "--json")
    assert any("demotion is disabled" in w for w in doc["warnings"])
    assert any(w.startswith("node 1 has only ZONE_MOVABLE memory") for w in doc["warnings"])
    text = invoke("--sysroot", tree, "topology").stdout
    assert "\nWarnings:\n  demotion is disabled" in text


def test_plain_golden_qemu_system_ram(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    result = invoke("--sysroot", scenario_tree("qemu-nvdimm", stage="system-ram"), "topology")
    assert result.exit_code == 0
    text = result.stdout
    assert text.startswith(
        "NUMA nodes:\n"
        "NODE KIND CPUS MEMTOTAL MEMFREE BLOCKS ZONES      TIER DAX    READ-NS WRITE-NS READ-MiB/s WRITE-MiB/s\n"
        "   0 dram 0-1      1.9G    1.7G  16/16 DMA32:15      4 -           10       10      10240       10240\n"
        "   1 pmem -        3.8G    3.8G  30/30 Movable:30   22 dax0.0      40       40       5120        5120\n"
        "\n"
        "Distances:\n"
        "NODE  0  1\n"
        "   0 10 20\n"
        "   1 20 10\n"
        "\n"
        "Memory tiers:\n"
        "TIER NODES KINDS ADISTANCE\n"
        "   4 0     dram  512-639\n"
        "  22 1     pmem  2816-2943\n"
    )
    assert "\nPolicy:\nauto_online_blocks:  offline\nmemhp_default_state: offline\n" in text
    assert "\nEvidence:\n  node 0 (dram): has CPUs 0,1; 16 memory block(s)" in text
    assert text.endswith(
        "Node lists:\n"
        "DRAM only:  numactl --membind=0\n"
        "All memory: numactl --membind=0-1\n"
        "PMEM only:  numactl --membind=1\n"
    )
    assert "\x1b[" not in text


def test_quiet(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    tree = scenario_tree("optane-2s")
    assert invoke("-q", "--sysroot", tree, "topology").stdout == ""
    assert run_json(invoke, "-q", "--sysroot", tree, "topology", "--json")["nodes"]


@pytest.mark.parametrize(
    "relpath,content,needle",
    [
        (
            "sys/devices/system/node/node1/distance",
            "20 near",
            "node1/distance: unexpected content '20 near' (expected integers)",
        ),
        (
            "sys/devices/system/node/node0/cpulist",
            "0-x",
            "node0/cpulist: unexpected content '0-x' (expected a cpu list)",
        ),
        (
            "sys/devices/virtual/memory_tiering/memory_tier22/nodelist",
            "1-",
            "memory_tier22/nodelist: unexpected content '1-'",
        ),
    ],
)
def test_garbage_attribute(
    invoke: Invoke, fresh_tree: Callable[..., Path], relpath: str, content: str, needle: str
) -> None:
    tree = fresh_tree("qemu-nvdimm", stage="system-ram")
    path = tree / relpath
    path.chmod(0o644)
    path.write_text(content + "\n")
    result = invoke("--sysroot", tree, "topology")
    assert result.exit_code == ExitCode.FAILED
    assert needle in one_line(result.stderr)
