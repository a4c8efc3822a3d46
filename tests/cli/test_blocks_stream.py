"""``blocks --json`` is streamed record by record through the C encoder and
is byte for byte the document ``json.dumps(..., indent=2)`` would print."""

from __future__ import annotations

import json

import pytest

from pmemctl.cli.render.json import blocks_json, blocks_json_text
from pmemctl.model.records import replace
from pmemctl.ops.read import blocks_view, parse_columns
from pmemctl.sim.cases import ALL_CASES, Case, TreeCache
from pmemctl.sysfs.door import SysfsRoot

VARIANTS = [
    dict(per_block=True, columns=None, state=None),
    dict(per_block=False, columns=None, state=None),
    dict(per_block=True, columns="range,state,node", state=None),
    dict(per_block=True, columns="block,zone,device", state="offline"),
    dict(per_block=True, columns=None, state="going-offline"),  # no ranges at all
]


def _whole(view, **flt) -> str:  # type: ignore[no-untyped-def]
    return json.dumps(blocks_json(view, **flt), indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("variant", range(len(VARIANTS)))
def test_streamed_document_is_byte_identical(sim_trees: TreeCache, case: Case, variant: int) -> None:
    root, _ = sim_trees.get(case)
    v = VARIANTS[variant]
    view = blocks_view(SysfsRoot(str(root)), columns=parse_columns(v["columns"]), per_block=v["per_block"],
                       state=v["state"])
    flt = dict(device=None, node=None, state=v["state"])
    pieces = list(blocks_json_text(view, chunk=7, **flt))
    assert "".join(pieces) == _whole(view, **flt)
    assert len(pieces) > 1 or not view.ranges  # streamed, not the one-shot fallback


def test_odd_values_encode_identically(sim_trees: TreeCache) -> None:
    root, _ = sim_trees.get(Case("big", {"blocks": "4096"}))
    view = blocks_view(SysfsRoot(str(root)), per_block=True)
    odd = [replace(r, zones=("Movable", "Normal"), device="dax\u00e9\"\\1") for r in view.ranges[:3]]
    odd += [replace(r, zones=(), removable=True, node=None) for r in view.ranges[3:5]]
    view = replace(view, ranges=tuple(odd), topology=replace(view.topology, sysroot="/tmp/\"ranges\": []\u00fc"))
    flt = dict(device="dax0.0", node=1, state=None)
    assert "".join(blocks_json_text(view, **flt)) == _whole(view, **flt)
    # the stream is made of many pieces, none holding the whole document
    assert len(list(blocks_json_text(view, chunk=1, **flt))) == 2 + len(odd)
    assert len(list(blocks_json_text(view, chunk=2, **flt))) == 2 + 3
