"""What every subsystem of the simulated kernel shares.

A :class:`SimContext` wraps the door the writes come through (reads go
through it, so they see what a reader sees) with the tree writer, the static
facts of the machine (``scenario.json``), the simulator-only state
(:mod:`.state`) and the injected faults (:mod:`.faults`).  The subsystems
(:mod:`.memory`, :mod:`.dax`, :mod:`.nd`, :mod:`.iomem`) each take one; the
door (:mod:`.door`) makes it and wires them together.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from pmemctl.sim.kernel import state as _state
from pmemctl.sim.kernel.confined import ConfinedTreeWriter, load_json
from pmemctl.sim.kernel.faults import Faults
from pmemctl.sim.kernels import TIER_DAX_DEFAULT
from pmemctl.sim.machine import MachineSpec, NodeSpec
from pmemctl.sim.tree import MARKER_DIR, SCENARIO_FILE
from pmemctl.sysfs import paths
from pmemctl.sysfs.door import SysfsRoot


class SimContext:
    """The door, the tree, the static facts and the state of one simulated machine."""

    def __init__(self, door: SysfsRoot) -> None:
        self.door = door
        self.root = door.root
        self.tree = ConfinedTreeWriter(self.root)
        self.marker = os.path.join(self.root, MARKER_DIR)
        self.faults = Faults(self.root)
        self._machine: Optional[MachineSpec] = None
        self._block_size: Optional[int] = None
        self._node_infos: dict[int, NodeSpec] = {}

    # ------------------------------------------------------------ static facts

    @property
    def machine(self) -> MachineSpec:
        """The resolved scenario, without its (large) block list."""
        if self._machine is None:
            data = load_json(os.path.join(self.marker, SCENARIO_FILE))["machine"]
            data["blocks"] = []
            data["dax_devices"] = [dict(d, blocks=[]) for d in data.get("dax_devices", [])]
            self._machine = MachineSpec.from_dict(data)
        return self._machine

    @property
    def block_size(self) -> int:
        if self._block_size is None:
            self._block_size = int(self.door.read(paths.BLOCK_SIZE_BYTES), 16)
        return self._block_size

    def node_info(self, node_id: int) -> NodeSpec:
        """The static facts of a node (looked up once: every block write asks)."""
        node = self._node_infos.get(node_id)
        if node is None:
            node = self.machine.node(node_id)
            if node is None:  # a node the scenario did not describe: memory only, no DRAM
                node = NodeSpec(id=node_id, cpus=(), dram=(), reserved_kb=0, used_kb=0,
                                memory_tier=TIER_DAX_DEFAULT)
            self._node_infos[node_id] = node
        return node

    # ------------------------------------------------------------------ state

    def load_state(self) -> dict[str, Any]:
        """``kernel-state.json`` (:func:`.state.load_kernel_state`)."""
        return _state.load_kernel_state(
            self.root, lambda: [d.name for d in self.machine.dax_devices if d.driver == "kmem"]
        )

    def save_state(self, data: dict[str, Any]) -> None:
        _state.save_kernel_state(self.root, data)

    # --------------------------------------------------------------- files

    def read(self, kpath: str) -> str:
        return self.door.read(kpath)

    def read_optional(self, kpath: str) -> Optional[str]:
        return self.door.read_optional(kpath)

    def exists(self, kpath: str) -> bool:
        return self.door.exists(kpath)

    def mode(self, target: str) -> int:
        """The permission bits of an attribute (a plain store keeps them)."""
        return os.stat(self.door.host_path(target)).st_mode & 0o777

    def store_plain(self, target: str, text: str) -> None:
        """What the kernel does for attributes nothing reacts to: keep the value."""
        self.tree.write_bytes(target, (text + "\n").encode(), self.mode(target))


__all__ = ["SimContext"]
