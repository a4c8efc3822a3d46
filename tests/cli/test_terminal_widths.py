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
