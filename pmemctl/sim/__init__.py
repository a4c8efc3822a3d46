"""Room 4: the simulator.

Builds realistic sysfs/procfs trees of named machines (scenarios) on disk,
and answers writes to them the way the kernel does:

* :mod:`pmemctl.sim.tree` - low-level primitives (attributes with kernel
  modes, relative links, the /dev manifest);
* :mod:`pmemctl.sim.objects` - kernel objects as reusable tree operations;
* :mod:`pmemctl.sim.scenario` - TOML scenarios resolved into a
  :class:`~pmemctl.sim.machine.MachineSpec` (the specification types of
  :mod:`pmemctl.sim.machine`, all named ``...Spec``);
* :mod:`pmemctl.sim.build` - :func:`materialise` a scenario into a tree;
* :mod:`pmemctl.sim.kernel` - the simulated kernel, a door whose writes
  the kernel reacts to (memory blocks, dax drivers, the nd bus, faults).

A materialised tree carries ``.pmemctl-sim/`` (scenario.json, devnodes.json);
that marker is how the CLI recognises a simulated tree.

The rule: the simulator is an independent oracle.  It never imports
:mod:`pmemctl.model` or :mod:`pmemctl.ops` -- what it knows about the kernel
it knows on its own, so the product's discovery and planning can be checked
against it rather than against themselves.  It may import
:mod:`pmemctl.sysfs` (the door, kernel paths, the kernel vocabulary of
:mod:`pmemctl.sysfs.abi`), :mod:`pmemctl.errors` and :mod:`pmemctl.units`.
Tests may import both sides to cross-check them.

The names below are loaded on first use (PEP 562), so opening a simulated
tree for a write (:mod:`pmemctl.sim.kernel`) loads neither the builder nor
the scenarios.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pmemctl.sim.build import load_machine, materialise
    from pmemctl.sim.scenario import Scenario, ScenarioInfo, list_scenarios, load_scenario
    from pmemctl.sim.tree import MARKER_DIR, TreeWriter, is_simulated_tree, load_devnodes

_LAZY = {
    "MARKER_DIR": "pmemctl.sim.tree",
    "Scenario": "pmemctl.sim.scenario",
    "ScenarioInfo": "pmemctl.sim.scenario",
    "TreeWriter": "pmemctl.sim.tree",
    "is_simulated_tree": "pmemctl.sim.tree",
    "list_scenarios": "pmemctl.sim.scenario",
    "load_devnodes": "pmemctl.sim.tree",
    "load_machine": "pmemctl.sim.build",
    "load_scenario": "pmemctl.sim.scenario",
    "materialise": "pmemctl.sim.build",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "MARKER_DIR",
    "Scenario",
    "ScenarioInfo",
    "TreeWriter",
    "is_simulated_tree",
    "list_scenarios",
    "load_devnodes",
    "load_machine",
    "load_scenario",
    "materialise",
]
