"""The big scenario at its default size: 49,152 blocks, as specified.

How long it takes to build is a benchmark (bench/bench_sim_big.py), not a test."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter

import pytest

from pmemctl.sim import load_scenario, materialise
from pmemctl.sim.cases import fast_tmp_base


@pytest.mark.slow
def test_big_default_materialises() -> None:
    scenario = load_scenario("big")
    assert scenario.params == {"blocks": "49152"}
    base = tempfile.mkdtemp(prefix="pmemctl-big-", dir=fast_tmp_base())
    try:
        root = materialise(scenario, os.path.join(base, "tree"))
        memory = root / "sys/devices/system/memory"
        blocks = [n for n in os.listdir(memory) if n.startswith("memory")]
        assert len(blocks) == 49152
        node1 = [n for n in os.listdir(root / "sys/devices/system/node/node1") if n.startswith("memory")]
        assert len(node1) == 49152 - 128
        states = Counter((b.online, b.valid_zones) for b in scenario.machine.blocks if b.node == 1)
        assert states[(True, "Movable")] > states[(True, "Normal")] > 0
        assert states[(False, "Movable Normal")] == 16
        assert states[(False, "Normal Movable")] > 0
        # Spot-check a block from each kind against the machine.
        for block in scenario.machine.blocks[:: 4099]:
            kpath = memory / f"memory{block.index}"
            assert (kpath / "valid_zones").read_text() == block.valid_zones + "\n"
            assert (kpath / "state").read_text() == ("online\n" if block.online else "offline\n")
    finally:
        shutil.rmtree(base, ignore_errors=True)
