"""Every action kind, by the name the journal records it under.

A journal written by one run is replayed by ``pmemctl resume`` / ``rollback``
in another: :func:`action_from_dict` turns its records back into actions.
The kinds and their fields are part of the journal format: never rename one.
"""

from __future__ import annotations

from typing import Any

from pmemctl.ops.actions.base import Action
from pmemctl.ops.actions.dax import BindDevice, SetDaxState, SetMemmapOnMemory, UnbindDevice, UnplugDaxDevice
from pmemctl.ops.actions.memory import OfflineBlock, OfflineRange, OnlineBlock, WaitForBlocks, WaitForBlocksGone
from pmemctl.ops.actions.nd import CreateNamespace, DestroyNamespace, ReconfigureNamespace
from pmemctl.ops.actions.offline_any import OfflineAnyBlock, OfflineSpareBlock
from pmemctl.ops.actions.policy import SetPolicy

ACTION_TYPES: dict[str, type[Action]] = {
    cls.kind: cls
    for cls in (
        OnlineBlock, OfflineBlock, OfflineRange, UnbindDevice, BindDevice, WaitForBlocks, WaitForBlocksGone,
        CreateNamespace, ReconfigureNamespace, DestroyNamespace, SetPolicy, SetMemmapOnMemory, SetDaxState,
        UnplugDaxDevice, OfflineAnyBlock, OfflineSpareBlock,
    )
}


def action_from_dict(data: dict[str, Any]) -> Action:
    fields = dict(data)
    cls = ACTION_TYPES[fields.pop("kind")]
    return cls(**fields)
