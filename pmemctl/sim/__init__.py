"""Room 4: the simulator.

Builds realistic sysfs/procfs trees of named machines (scenarios) on disk:

* :mod:`pmemctl.sim.tree` - low-level primitives (attributes with kernel
  modes, relative links, the /dev manifest);
* :mod:`pmemctl.sim.objects` - kernel objects as reusable tree operations;
* :mod:`pmemctl.sim.scenario` - TOML scenarios resolved into a
  :class:`~pmemctl.sim.machine.Machine`;
* :mod:`pmemctl.sim.build` - :func:`materialise` a scenario into a tree.

A materialised tree carries ``.pmemctl-sim/`` (scenario.json, devnodes.json);
that marker is how the CLI recognises a simulated tree.
"""

from pmemctl.sim.build import load_machine, materialise
from pmemctl.sim.scenario import Scenario, ScenarioInfo, list_scenarios, load_scenario
from pmemctl.sim.tree import MARKER_DIR, TreeWriter, is_simulated_tree, load_devnodes

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
