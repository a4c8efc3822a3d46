"""Rules of the simulator's code (pmemctl/sim/__init__.py): it is an
independent oracle, and opening a tree for a write stays cheap."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pmemctl.sim

SIM = Path(pmemctl.sim.__file__).parent
ALLOWED = ("pmemctl.sim", "pmemctl.sysfs", "pmemctl.errors", "pmemctl.units")


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return out


def test_the_simulator_imports_neither_model_nor_ops() -> None:
    bad = [
        f"{path.relative_to(SIM)}: {name}"
        for path in sorted(SIM.rglob("*.py"))
        for name in _imports(path)
        if (name == "pmemctl" or name.startswith("pmemctl.")) and not name.startswith(ALLOWED)
    ]
    assert bad == []


def test_opening_a_tree_for_a_write_loads_neither_builder_nor_scenarios() -> None:
    code = (
        "import sys; import pmemctl.sim.kernel; "
        "print(' '.join(m for m in sys.modules if m.startswith(('pmemctl.sim.build', 'pmemctl.sim.scenario', "
        "'pmemctl.sim.fuse', 'pmemctl.sim.kernel.nd', 'pmemctl.model', 'pmemctl.ops'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []
