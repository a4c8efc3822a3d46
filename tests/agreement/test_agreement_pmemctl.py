"""`pmemctl list` and the real daxctl/ndctl agree, tool against tool.

For every scenario, inside a private mount namespace with the tree bound over
/sys, the real `daxctl list -Di` and `ndctl list -Ni -v` must report the same
devices, modes, sizes and target nodes as `pmemctl --sysroot TREE list --json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from realtools import parse_json_output, run_real_tool

from pmemctl.cli.main import cli


def pmemctl_list(tree: Path) -> dict[str, Any]:
    res = CliRunner().invoke(cli, ["--sysroot", str(tree), "list", "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def our_dax_devices(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for bus in doc["buses"]:
        for region in bus["regions"]:
            for ns in region["namespaces"]:
                if ns["dax_device"] is not None:
                    out[ns["dax_device"]["name"]] = ns["dax_device"]
    for dev in doc["standalone_dax_devices"]:
        out[dev["name"]] = dev
    return out


def test_daxctl_sees_what_pmemctl_lists(built: tuple[Path, Any], daxctl_ready: None) -> None:
    tree, _scenario = built
    ours = our_dax_devices(pmemctl_list(tree))
    res = run_real_tool(tree, ["daxctl", "list", "-Di"])
    assert res.returncode == 0, res.stderr
    theirs = {d["chardev"]: d for d in parse_json_output(res.stdout)}
    assert set(theirs) == set(ours)
    for name, dev in ours.items():
        t = theirs[name]
        assert t["size"] == dev["size"], name
        assert t.get("target_node") == dev["target_node"], name
        # daxctl's mode: system-ram iff bound to kmem; unbound shows state "disabled"
        expected_mode = "system-ram" if dev["mode"] == "system-ram" else "devdax"
        assert t["mode"] == expected_mode, name
        assert (t.get("state") == "disabled") == (dev["mode"] == "disabled"), name
        if dev["mode"] == "system-ram":
            assert t["online_memblocks"] == dev["blocks_online"], name
            assert t["total_memblocks"] == dev["blocks_total"], name


_NDCTL_MODE = {"raw": "raw", "fsdax": "fsdax", "devdax": "devdax", "sector": "sector"}


def test_ndctl_sees_what_pmemctl_lists(built: tuple[Path, Any], ndctl_ready: None) -> None:
    tree, _scenario = built
    doc = pmemctl_list(tree)
    ours = {ns["name"]: ns for b in doc["buses"] for r in b["regions"] for ns in r["namespaces"]}
    if not ours:
        pytest.skip("this scenario has no nd namespaces (hmem/CXL only)")
    res = run_real_tool(tree, ["ndctl", "list", "-Ni", "-v"])
    assert res.returncode == 0, res.stderr
    theirs = {n["dev"]: n for n in parse_json_output(res.stdout)}
    # ndctl -i also shows idle seeds; pmemctl lists them as idle namespaces
    assert set(theirs) <= set(ours)
    for name, t in theirs.items():
        ns = ours[name]
        if ns["idle"]:
            continue
        assert t["mode"] == _NDCTL_MODE[ns["mode"]], name
        # ndctl shows the usable size (after the info block) for fsdax/devdax/sector
        assert t["size"] == (ns["usable_size"] if ns["usable_size"] is not None else ns["size"]), name
        assert t.get("target_node") == ns["target_node"], name
        if ns["mode"] == "devdax":
            # -v nests the dax devices in "daxregion" instead of a "chardev" key
            chardevs = [t["chardev"]] if "chardev" in t else [d["chardev"] for d in t["daxregion"]["devices"]]
            assert chardevs == [ns["dax_device"]["name"]], name
        if ns["blockdev"] is not None:
            assert t.get("blockdev") == ns["blockdev"], name
