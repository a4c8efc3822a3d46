"""``pmemctl list``: bus → region → namespace → dax device, checked against the scenario."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from cli_scenarios import cases
from cli_support import Invoke, check_schema, machine, one_line, run_json

from pmemctl.errors import ExitCode


def all_dax(doc: dict[str, Any]) -> list[dict[str, Any]]:
    nested = [
        ns["dax_device"]
        for bus in doc["buses"]
        for region in bus["regions"]
        for ns in region["namespaces"]
        if ns["dax_device"] is not None
    ]
    return nested + doc["standalone_dax_devices"]


@cases
def test_json_matches_the_scenario(
    invoke: Invoke, scenario_tree: Callable[..., Path], case: tuple[str, dict[str, Any]]
) -> None:
    tree = scenario_tree(case[0], **case[1])
    m = machine(tree)
    doc = run_json(invoke, "--sysroot", tree, "list", "--json")
    check_schema(doc)
    assert doc["command"] == "list" and doc["sysroot"] == str(tree)
    assert doc["filters"] == dict.fromkeys(("bus", "region", "namespace", "device", "mode"))
    assert [b["name"] for b in doc["buses"]] == [b.name for b in m.buses]
    assert [b["provider"] for b in doc["buses"]] == [b.provider for b in m.buses]

    regions = {r["name"]: r for b in doc["buses"] for r in b["regions"]}
    assert set(regions) == {r.name for r in m.regions()}
    for r in m.regions():
        got = regions[r.name]
        assert (got["size"], got["numa_node"], got["target_node"]) == (r.size, r.numa_node, r.target_node)
        assert [x["dimm"] for x in got["mappings"]] == [x.dimm for x in r.mappings]

    namespaces = {n["name"]: n for r in regions.values() for n in r["namespaces"]}
    assert set(namespaces) == {n.name for n in m.namespaces()}
    for ns in m.namespaces():
        got = namespaces[ns.name]
        assert got["mode"] == ns.mode
        assert got["size"] == ns.size
        assert got["idle"] is ns.seed
        assert got["blockdev"] == ns.blockdev
        assert (got["dax_device"] or {}).get("name") == ns.dax_device

    devices = {d["name"]: d for d in all_dax(doc)}
    assert set(devices) == {d.name for d in m.dax_devices}
    for dev in m.dax_devices:
        got = devices[dev.name]
        assert got["driver"] == dev.driver
        assert got["mode"] == {"kmem": "system-ram", "device_dax": "devdax", None: "disabled"}[dev.driver]
        assert got["size"] == dev.size
        assert got["target_node"] == dev.target_node
        assert got["namespace"] == dev.namespace
        assert got["source"] == dev.source
        assert got["ranges"] == [{"start": x.start, "end": x.end, "size": x.end - x.start + 1} for x in dev.mappings]
        blocks = m.blocks_of(dev.name)
        assert got["blocks_total"] == len(blocks)
        assert got["blocks_online"] == sum(b.online for b in blocks)
    assert {d["name"] for d in doc["standalone_dax_devices"]} == {d.name for d in m.dax_devices if d.namespace is None}

    policy = doc["policy"]
    assert policy["block_size"] == m.block_size
    assert policy["auto_online_blocks"] == m.auto_online_blocks
    assert policy["demotion_enabled"] is m.demotion_enabled


@pytest.mark.parametrize(
    "stage,ns_mode,driver,online",
    [("raw", "raw", None, None), ("devdax", "devdax", "device_dax", 0), ("system-ram", "devdax", "kmem", 30)],
)
def test_qemu_stages(
    invoke: Invoke, scenario_tree: Callable[..., Path], stage: str, ns_mode: str, driver: Any, online: Any
) -> None:
    doc = run_json(invoke, "--sysroot", scenario_tree("qemu-nvdimm", stage=stage), "list", "--json")
    namespaces = {n["name"]: n for n in doc["buses"][0]["regions"][0]["namespaces"]}
    ns = namespaces["namespace0.0"]
    assert ns["mode"] == ns_mode
    # as on the real guest: label-less as booted; after ndctl create-namespace
    # (which initialised the labels) a labelled region with an idle seed
    if stage == "raw":
        assert set(namespaces) == {"namespace0.0"}
    else:
        assert set(namespaces) == {"namespace0.0", "namespace0.1"}
        assert namespaces["namespace0.1"]["size"] == 0 and not namespaces["namespace0.1"]["enabled"]
    if driver is None:
        assert ns["dax_device"] is None
        assert ns["blockdev"] == "pmem0"
    else:
        assert ns["dax_device"]["driver"] == driver
        assert ns["dax_device"]["blocks_online"] == online
        assert ns["dax_device"]["size"] == 4_093_640_704  # data after the 2 MiB-aligned info block


def test_plain_golden_qemu_system_ram(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    result = invoke("--sysroot", scenario_tree("qemu-nvdimm", stage="system-ram"), "list")
    assert result.exit_code == 0
    assert result.stdout == (
        "NAME             TYPE      MODE       SIZE NODE TARGET STATE         MEMORY DETAIL\n"
        "ndbus0           bus       -             -    -      - -                  - provider ACPI.NFIT, dimms nmem0\n"
        "  region0        region    pmem       3.9G    0      1 enabled            - available 0B\n"
        "    namespace0.0 namespace devdax     3.9G    0      1 enabled            - -\n"
        "      dax0.0     dax       system-ram 3.8G    0      1 kmem    30/30 online -\n"
        "    namespace0.1 namespace raw          0B    0      1 idle               - -\n"
    )


def test_plain_lists_standalone_devices(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    tree = scenario_tree("cxl-hmem", kind="cxl", mode="system-ram")
    lines = invoke("--sysroot", tree, "list").stdout.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "MODE", "SIZE", "NODE", "TARGET", "STATE", "MEMORY", "DETAIL"]
    assert lines[1].split()[:4] == ["dax0.0", "dax", "system-ram", "16G"]
    assert lines[1].endswith("96/128 online source cxl")


def test_plain_output_has_no_escapes_or_boxes(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    text = invoke("--sysroot", scenario_tree("optane-2s"), "list").stdout
    assert "\x1b[" not in text
    assert not any(ch in text for ch in "─│┃━┏┓")
    assert all(line == line.rstrip() for line in text.splitlines())


# -- filters ----------------------------------------------------------------------------


def test_filters(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    tree = scenario_tree("optane-2s")

    def names(*args: str) -> set[str]:
        doc = run_json(invoke, "--sysroot", tree, "list", *args, "--json")
        check_schema(doc)
        out = {b["name"] for b in doc["buses"]}
        for b in doc["buses"]:
            for r in b["regions"]:
                out.add(r["name"])
                for n in r["namespaces"]:
                    out.add(n["name"])
                    if n["dax_device"]:
                        out.add(n["dax_device"]["name"])
        return out | {d["name"] for d in doc["standalone_dax_devices"]}

    assert names("--region", "region1") == names("--region", "1")
    assert "region0" not in names("--region", "1")
    assert names("--device", "dax0.1") == {"ndbus0", "region0", "namespace0.1", "dax0.1"}
    assert names("--namespace", "namespace1.0") == {"ndbus0", "region1", "namespace1.0"}
    assert names("--mode", "system-ram") == {"ndbus0", "region0", "namespace0.1", "dax0.1"}
    assert names("--mode", "fsdax") == {"ndbus0", "region0", "namespace0.0"}
    assert names("--bus", "ACPI.NFIT") == names("--bus", "ndbus0") == names()
    doc = run_json(invoke, "--sysroot", tree, "list", "--mode", "sector", "--json")
    assert doc["filters"]["mode"] == "sector"


def test_nothing_matches(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    tree = scenario_tree("qemu-nvdimm", stage="raw")
    result = invoke("--sysroot", tree, "list", "--mode", "system-ram")
    assert result.exit_code == 0
    assert result.stdout == f"nothing matches the filters under {tree}\n"
    doc = run_json(invoke, "--sysroot", tree, "list", "--mode", "system-ram", "--json")
    assert doc["buses"] == [] and doc["standalone_dax_devices"] == []


def test_quiet(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    tree = scenario_tree("optane-2s")
    assert invoke("--quiet", "--sysroot", tree, "list").stdout == ""
    assert run_json(invoke, "-q", "--sysroot", tree, "list", "--json")["buses"]


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,code,needle",
    [
        (["--device", "dax7.0"], ExitCode.NOT_FOUND, "no dax device named 'dax7.0'; known: dax0.1, dax1.1"),
        (["--region", "region9"], ExitCode.NOT_FOUND, "no region named 'region9'; known: region0, region1"),
        (["--namespace", "namespace5.5"], ExitCode.NOT_FOUND, "no namespace named 'namespace5.5'"),
        (["--bus", "ndbus3"], ExitCode.NOT_FOUND, "no bus named 'ndbus3'; known: ndbus0"),
        (["--mode", "turbo"], ExitCode.USAGE, "unknown mode 'turbo'"),
    ],
)
def test_bad_input(invoke: Invoke, scenario_tree: Callable[..., Path], args: list[str], code: int, needle: str) -> None:
    result = invoke("--sysroot", scenario_tree("optane-2s"), "list", *args)
    assert result.exit_code == code
    assert needle in one_line(result.stderr)
    assert result.stdout == ""


def test_garbage_attribute(invoke: Invoke, fresh_tree: Callable[..., Path]) -> None:
    tree = fresh_tree("qemu-nvdimm", stage="system-ram")
    (size,) = tree.glob("sys/devices/**/region0/size")
    size.chmod(0o644)
    size.write_text("lots\n")
    result = invoke("--sysroot", tree, "list")
    assert result.exit_code == ExitCode.FAILED
    line = one_line(result.stderr)
    assert "/region0/size: unexpected content 'lots' (expected an integer)" in line
