"""Issue 15 item 20: one size formatter for every command.  The region
``list`` shows as "available 3.9G" was "3.88G free" in ``namespace create``
and ``namespace plan``: every command now prints a measured size the way
``list`` and ``blocks`` do (lsmem's one decimal), sizes the user types are
echoed exactly, and two different sizes shown side by side never read the same."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

from cli_support import Invoke

from pmemctl.units import format_size

#: a size with two decimals, as the second formatter printed them ("3.88G")
TWO_DECIMALS = re.compile(r"\b\d+\.\d\d[KMGTP]\b")


def test_region_free_space_reads_the_same_in_every_command(invoke: Invoke,
                                                          scenario_tree: Callable[..., Path]) -> None:
    tree = scenario_tree("qemu-nvdimm", stage="labelled")
    region = json.loads(invoke("--sysroot", tree, "list", "--json").stdout)
    doc = json.dumps(region)
    available = None
    for match in re.finditer(r'"available_size": (\d+)', doc):
        available = int(match.group(1))
    assert available is not None
    shown = format_size(available)
    listing = invoke("--sysroot", tree, "list").stdout
    assert f"available {shown}" in listing
    texts = [
        invoke("--sysroot", tree, "namespace", "create", "-r", "region0", "-s", "2G", "-m", "devdax",
               "--dry-run").stdout,
        invoke("--sysroot", tree, "namespace", "create", "-r", "region0", "-s", "8G", "-m", "devdax",
               "--dry-run").stdout,
        invoke("--sysroot", tree, "namespace", "plan", "-r", "region0", "--system-ram", "1G").stdout,
    ]
    for text in texts:
        assert not TWO_DECIMALS.search(text), text
    assert f"({shown} free in its largest extent)" in texts[0]
    assert f"region0 has {shown} free" in texts[1]
    assert "free:" in texts[2] and f"{shown} in the largest extent" in texts[2]


def test_a_size_the_user_typed_is_echoed_exactly(invoke: Invoke, scenario_tree: Callable[..., Path]) -> None:
    tree = scenario_tree("qemu-nvdimm", stage="labelled")
    res = invoke("--sysroot", tree, "namespace", "create", "-r", "region0", "-s", "3970M", "-m", "devdax",
                 "--dry-run")
    assert "3970M is not a multiple of 16M" in res.stdout, res.stdout
    assert "create a 3970M devdax namespace" in res.stdout
