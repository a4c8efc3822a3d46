"""Issue 15, item 12: tables at ordinary terminal widths never cut an
identifier.  Every read command is rendered as on a terminal (rich, forced
with --color) at 80, 100 and 120 columns on every scenario: no cell is
cropped (no ellipsis), every identifier the JSON names appears whole, and a
column left out to fit is said so, in the stated order."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest
from cli_scenarios import CASES, case_id
from cli_support import Invoke

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
WIDTHS = (80, 100, 120)


def _identifiers(invoke: Invoke, tree: Path, command: str) -> set[str]:
    doc = json.loads(invoke("--sysroot", tree, command, "--json").stdout)
    names: set[str] = set()
    if command == "list":
        for bus in doc["buses"]:
            names.add(bus["name"])
            for r in bus["regions"]:
                names.add(r["name"])
                for ns in r["namespaces"]:
                    names.add(ns["name"])
                    if ns["dax_device"]:
                        names.add(ns["dax_device"]["name"])
        names |= {d["name"] for d in doc["standalone_dax_devices"]}
    elif command == "blocks":
        for r in doc["ranges"]:
            names.add(str(r["first_block"]) if r["blocks"] == 1 else f"{r['first_block']}-{r['last_block']}")
            if r["device"]:
                names.add(r["device"])
    else:
        for n in doc["nodes"]:
            names |= set(n["dax_devices"])
    return names


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("command", ["list", "blocks", "topology"])
@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_identifiers_are_whole_at_every_width(invoke: Invoke, scenario_tree: Callable[..., Path], case: Any,
                                              command: str, width: int) -> None:
    name, params = case
    tree = scenario_tree(name, **params)
    res = invoke("--sysroot", tree, "--color", command, env={"COLUMNS": str(width)})
    assert res.exit_code == 0, res.stderr
    text = ANSI.sub("", res.stdout)
    assert "…" not in text, text
    words = set(re.findall(r"[^\s,]+", text))
    missing = sorted(i for i in _identifiers(invoke, tree, command) if i not in words)
    assert not missing, f"cut or missing at {width} columns: {missing}\n{text}"


def test_left_out_columns_are_named_in_order(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    tree = scenario_tree("optane-2s")
    text = ANSI.sub("", invoke("--sysroot", tree, "--color", "topology", env={"COLUMNS": "80"}).stdout)
    assert "left out in this order: WRITE-MiB/s, READ-MiB/s" in " ".join(text.split())
    assert "NODE" in text and "KIND" in text and "DAX" in text
    wide = ANSI.sub("", invoke("--sysroot", tree, "--color", "topology", env={"COLUMNS": "200"}).stdout)
    assert "left out" not in wide and "WRITE-MiB/s" in wide


def test_piped_output_keeps_every_column(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    tree = scenario_tree("optane-2s")
    text = invoke("--sysroot", tree, "list", env={"COLUMNS": "80"}).stdout
    assert text.splitlines()[0].split() == ["NAME", "TYPE", "MODE", "SIZE", "NODE", "TARGET", "STATE", "MEMORY",
                                            "DETAIL"]


#: Read commands added after the first width pass (provisioning, doctor, boot
#: units, status): each, at every width, prints no cropped cell, and every dax
#: device name the piped text shows appears whole on the terminal too.
LATER_CASES = [c for c in CASES if c in (("qemu-nvdimm", {"stage": "system-ram"}), ("optane-2s", {}),
                                          ("cxl-hmem", {"kind": "cxl", "mode": "system-ram"}))]
LATER_READ_COMMANDS = (("doctor",), ("apply", "--check"), ("config", "show"), ("boot", "status"), ("status",))


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("command", LATER_READ_COMMANDS, ids=" ".join)
@pytest.mark.parametrize("case", LATER_CASES, ids=[case_id(c) for c in LATER_CASES])
def test_later_read_commands_keep_identifiers_whole(invoke: Invoke, fresh_tree: Callable[..., Path], case: Any,
                                                    command: tuple[str, ...], width: int) -> None:
    name, params = case
    tree = fresh_tree(name, **params)
    layout = invoke("--sysroot", tree, "config", "init").stdout
    (tree / "etc/pmemctl").mkdir(parents=True, exist_ok=True)
    (tree / "etc/pmemctl/pmemctl.toml").write_text(layout)
    piped = invoke("--sysroot", tree, *command, env={"COLUMNS": str(width)})
    res = invoke("--sysroot", tree, "--color", *command, env={"COLUMNS": str(width)})
    assert res.exit_code == piped.exit_code, res.stdout + res.stderr
    text = ANSI.sub("", res.stdout)
    assert "…" not in text, text
    names = set(re.findall(r"\b(?:dax\d+\.\d+|namespace\d+\.\d+|region\d+|node\d+)\b", piped.stdout))
    words = set(re.findall(r"[A-Za-z0-9_.]+", text))
    missing = sorted(n for n in names if n not in words)
    assert not missing, f"{' '.join(command)} cut {missing} at {width} columns:\n{text}"
