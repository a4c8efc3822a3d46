"""The block steps' short ``to_dict`` (one per block in a journalled plan)
writes what the generic one writes, and round-trips through the registry."""

from __future__ import annotations

import dataclasses

import pytest

from pmemctl.ops.actions.base import Action
from pmemctl.ops.actions.memory import _INDEX_AND_ZONE_ONLY, OfflineBlock, OnlineBlock
from pmemctl.ops.actions.registry import action_from_dict


@pytest.mark.parametrize("action", [OnlineBlock(7, "normal"), OnlineBlock(8, "auto"), OfflineBlock(9, "movable")])
def test_short_to_dict_is_the_generic_one(action: Action) -> None:
    assert action.to_dict() == Action.to_dict(action)
    assert action_from_dict(action.to_dict()) == action


def test_the_short_way_is_only_for_classes_whose_fields_are_index_and_zone() -> None:
    for cls in _INDEX_AND_ZONE_ONLY:
        assert [f.name for f in dataclasses.fields(cls)] == ["index", "zone"]
