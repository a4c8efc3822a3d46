"""Issue 15 item 20: ``reconfigure`` of several devices at once, as daxctl
takes them (``pmemctl reconfigure dax0.1 dax1.1 --mode devdax``): one plan,
one question naming what every device loses, each device its own unit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from cli_support import Invoke

from pmemctl.errors import ExitCode
from pmemctl.sim.kernel import faults


def drivers(invoke: Invoke, tree: Path) -> dict[str, str]:
    doc = json.loads(invoke("--sysroot", tree, "list", "--json").stdout)
    found: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("name", "")).startswith("dax") and "driver" in node:
                found[node["name"]] = node["driver"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    return found


def test_two_devices_one_plan_one_consent(invoke: Invoke, fresh_tree: Callable[..., Path]) -> None:
    tree = fresh_tree("optane-2s")
    assert invoke("--sysroot", tree, "reconfigure", "dax1.1", "-m", "system-ram", "--yes").exit_code == 0
    dry = json.loads(invoke("--sysroot", tree, "reconfigure", "dax0.1", "dax1.1", "-m", "devdax", "--dry-run",
                            "--json").stdout)
    plan = dry["plan"]
    assert plan["title"] == "reconfigure dax0.1, dax1.1 to devdax" and plan["targets"] == ["dax0.1", "dax1.1"]
    assert "node 2" in plan["consent"] and "node 3" in plan["consent"], plan["consent"]
    unbinds = [s["description"] for s in plan["steps"] if s["kind"] == "unbind"]
    assert len(unbinds) == 2
    refused = invoke("--sysroot", tree, "reconfigure", "dax0.1", "dax1.1", "-m", "devdax")
    assert refused.exit_code == ExitCode.REFUSED and "node 2" in refused.stderr and "node 3" in refused.stderr
    done = invoke("--sysroot", tree, "reconfigure", "dax0.1", "dax1.1", "-m", "devdax", "--yes")
    assert done.exit_code == 0, done.output
    assert drivers(invoke, tree) == {"dax0.1": "device_dax", "dax1.1": "device_dax"}


def test_each_device_is_its_own_unit(invoke: Invoke, fresh_tree: Callable[..., Path]) -> None:
    tree = fresh_tree("optane-2s")
    assert invoke("--sysroot", tree, "reconfigure", "dax1.1", "-m", "system-ram", "--yes").exit_code == 0
    faults.inject(tree, "bind-fail", driver="device_dax", device="dax1.1")
    res = invoke("--sysroot", tree, "reconfigure", "dax0.1", "dax1.1", "-m", "devdax", "--yes", "--json")
    out = json.loads(res.stdout)["outcome"]
    assert res.exit_code == ExitCode.PARTIAL, res.output
    assert out["changed_units"] == ["dax0.1"] and out["failed_units"] == ["dax1.1"]
    assert drivers(invoke, tree) == {"dax0.1": "device_dax", "dax1.1": "kmem"}


def test_a_device_named_twice_is_planned_once(invoke: Invoke, fresh_tree: Callable[..., Path]) -> None:
    tree = fresh_tree("optane-2s")
    doc = json.loads(invoke("--sysroot", tree, "reconfigure", "dax1.1", "namespace1.1", "-m", "system-ram",
                            "--dry-run", "--json").stdout)
    assert doc["plan"]["targets"] == ["dax1.1"]
    assert [s["kind"] for s in doc["plan"]["steps"]].count("bind") == 1


def test_a_namespace_without_a_dax_device_goes_on_its_own(invoke: Invoke, fresh_tree: Callable[..., Path]) -> None:
    tree = fresh_tree("optane-2s")
    res = invoke("--sysroot", tree, "reconfigure", "dax1.1", "namespace0.2", "-m", "system-ram", "--dry-run")
    assert res.exit_code == ExitCode.USAGE
    assert f"pmemctl --sysroot {tree} reconfigure namespace0.2 --mode system-ram" in res.stderr


def test_zone_ratio_and_memmap_are_checked_for_all_devices_together(invoke: Invoke,
                                                                     fresh_tree: Callable[..., Path]) -> None:
    """Two devices each under the MOVABLE:KERNEL limit may be over it together:
    one plan checks the memory it onlines as a whole."""
    tree = fresh_tree("optane-2s")
    one = json.loads(invoke("--sysroot", tree, "reconfigure", "dax1.1", "-m", "system-ram", "--dry-run",
                            "--json").stdout)["plan"]["checks"]
    both = json.loads(invoke("--sysroot", tree, "reconfigure", "dax1.1", "dax0.1", "-m", "system-ram", "--dry-run",
                             "--json").stdout)["plan"]["checks"]
    ratios = [c["message"] for c in both if c["name"] == "zone-ratio"]
    assert len(ratios) == 1 and [c["name"] for c in both].count("memmap") == 1, both

    def ratio(message: str) -> float:
        return float(message.split("would be ")[1].split(":")[0])

    single = next(c["message"] for c in one if c["name"] == "zone-ratio")
    assert ratio(ratios[0]) > ratio(single)
