"""The columnar block walk (pmemctl/model/blocks.py, issue 14) reads what a
block-by-block walk reads, in fewer system calls."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Optional

import pytest

from pmemctl.errors import BadAttribute
from pmemctl.model import blocks as mb
from pmemctl.model.discover import discover, node_ids
from pmemctl.sim.cases import ALL_CASES, Case, TreeCache
from pmemctl.sysfs import paths
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.units import parse_bool01, parse_zones

MEMORY = "/sys/devices/system/memory"


def _one_by_one(root: Path) -> list[tuple[int, str, Optional[tuple[str, ...]], Optional[bool], Optional[int]]]:
    """Each block read on its own, as lsmem does: its directory listed for
    its nodeK link, each attribute opened by its full path."""
    door = SysfsRoot(root)
    out = []
    for name in sorted(os.listdir(root / MEMORY.lstrip("/")), key=lambda n: (len(n), n)):
        if not re.fullmatch(r"memory\d+", name):
            continue
        d = f"{MEMORY}/{name}"
        zones = door.read_optional(d + "/valid_zones")
        removable = door.read_optional(d + "/removable")
        node = next((int(e[4:]) for e in door.listdir(d) if re.fullmatch(r"node\d+", e)), None)
        out.append((int(name[6:]), door.read(d + "/state"), None if zones is None else parse_zones(zones),
                    None if removable is None else parse_bool01(removable), node))
    return out


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_the_table_holds_what_a_block_by_block_walk_reads(sim_trees: TreeCache, case: Case) -> None:
    root, _ = sim_trees.get(case)
    door = SysfsRoot(root)
    nids = node_ids(door)
    indexes, links = mb.walk_indexes(door, nids, True)
    table = mb.read_block_table(door, indexes, None, [], nids, frozenset({"zones", "removable", "node"}), links)
    want = _one_by_one(root)
    assert list(zip(table.indexes, [s.value for s in table.states], table.zones, table.removable, table.nodes,
                    strict=True)) == want
    assert table.devices == [None] * len(want)


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_discovery_owns_each_block_by_its_start_address(sim_trees: TreeCache, case: Case) -> None:
    root, _ = sim_trees.get(case)
    topo = discover(SysfsRoot(root))
    bs = topo.policy.block_size
    assert bs
    for b in topo.blocks:
        owners = [d.name for d in topo.dax_devices if any(lo <= b.index * bs < hi for lo, hi in d.ranges())]
        assert b.device == (owners[-1] if owners else None)
    assert [b.index for b in topo.blocks] == sorted(b.index for b in topo.blocks)


def test_only_the_asked_attributes_are_read(sim_trees: TreeCache) -> None:
    root, _ = sim_trees.get(ALL_CASES[0])
    asked: list[list[str]] = []

    class Door(SysfsRoot):
        def read_table(self, base: str, dirs, attrs):  # type: ignore[no-untyped-def]
            asked.append(list(attrs))
            return super().read_table(base, dirs, attrs)

    door = Door(str(root))
    table = mb.read_block_table(door, mb.block_indexes(door), None, [], [], frozenset())
    assert asked == [["state"]]
    assert set(table.zones) == {None} and set(table.removable) == {None} and set(table.nodes) == {None}


def _copy(sim_trees: TreeCache, tmp_path: Path) -> Path:
    root, _ = sim_trees.get(next(c for c in ALL_CASES if c.id.startswith("qemu")))
    dest = tmp_path / "tree"
    shutil.copytree(root, dest, symlinks=True)
    return dest


def test_a_vanished_block_is_left_out_and_garbage_is_named(sim_trees: TreeCache, tmp_path: Path) -> None:
    root = _copy(sim_trees, tmp_path)
    door = SysfsRoot(root)
    indexes = mb.block_indexes(door)
    gone = indexes[1]
    shutil.rmtree(root / paths.memory_block(gone).lstrip("/"))  # hot-removed after the listing
    table = mb.read_block_table(door, indexes, None, [], node_ids(door), frozenset({"zones", "node"}))
    assert gone not in table.indexes and len(table) == len(indexes) - 1
    assert len(table.zones) == len(table.nodes) == len(table.states) == len(table)
    bad = indexes[2]
    bad_state = root / paths.memory_block(bad).lstrip("/") / "state"
    bad_state.unlink()  # a built tree's block files are links shared by value: this block alone changes
    bad_state.write_text("sideways\n")
    with pytest.raises(BadAttribute) as exc:
        mb.read_block_table(door, mb.block_indexes(door), None, [], [], frozenset())
    assert f"memory{bad}/state" in exc.value.sentence()


def test_the_memory_directory_is_listed_when_the_node_links_do_not_cover_it(sim_trees: TreeCache,
                                                                            tmp_path: Path) -> None:
    root = _copy(sim_trees, tmp_path)
    door = SysfsRoot(root)
    nids = node_ids(door)
    every = mb.block_indexes(door)
    indexes, links = mb.walk_indexes(door, nids, True)
    assert indexes == every and links is not None and set(links) == set(every)
    # a block whose node link is missing from the node directory: found by listing, its node from its own link
    lost = every[-1]
    node = links[lost]
    os.unlink(root / paths.node_dir(node).lstrip("/") / f"memory{lost}")
    indexes, links = mb.walk_indexes(door, nids, True)
    assert indexes == every and links is not None and links[lost] == node
