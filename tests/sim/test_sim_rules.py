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


def _module_name(path: Path) -> str:
    rel = path.relative_to(SIM.parent.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def test_the_simulated_kernel_imports_go_one_way() -> None:
    """Inside pmemctl.sim.kernel no module imports one that (directly or not)
    imports it back; only the package itself re-exports the door."""
    kernel = SIM / "kernel"
    modules = {_module_name(p): p for p in kernel.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # "from pkg import sub" imports the submodule; "from pkg import name" the package
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                           for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            deps |= {t for t in targets if t in modules and t != name}
        graph[name] = deps
    package = "pmemctl.sim.kernel"
    assert all(package not in deps for deps in graph.values())  # nobody inside imports the package's re-exports
    state: dict[str, int] = {}

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        assert state.get(name) != 1, " -> ".join(trail + (name,))
        state[name] = 1
        for dep in sorted(graph[name]):
            visit(dep, trail + (name,))
        state[name] = 2

    for name in sorted(graph):
        visit(name, ())
