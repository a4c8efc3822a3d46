"""Code rules: the architecture, checked so a change cannot quietly break it.

pmemctl is five rooms with one-way imports::

    cli -> ops -> model -> sysfs          sim implements the sysfs door
                                          cli wires sim in (--sysroot, demo)

plus the shared base modules ``pmemctl``, ``pmemctl.errors``, ``pmemctl.commandline``,
``pmemctl.immutable`` and ``pmemctl.units`` that any room may import (and that import no room).

How imports are read (an AST walk of every ``pmemctl/**/*.py``):

* ``import a.b.c`` and ``from a.b import c`` name one module each: ``a.b.c``
  when that is a pmemctl module, else ``a.b`` (``c`` is an attribute).  The
  parent packages Python also initialises are not counted: a package
  ``__init__`` that re-exports its children would otherwise depend on all of
  them and they on it.
* relative imports are resolved against the importing module's package.
* an import anywhere inside a function is function-level; one in a class
  body or under a module-level ``if``/``try`` is module-level.
* imports under ``if TYPE_CHECKING:`` are still couplings: room and ops-layer
  rules apply to them; only the cycle check leaves them out (they never run).

Checks that need tools (ruff, mypy, radon) fail, not skip, when the tool is
missing: they are in the ``test`` extra (``pip install -e '.[test]'``).
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, Optional

import pytest

# --------------------------------------------------------------------------
# The tables: edit these when the architecture changes on purpose.

#: Layers inside pmemctl/ops, lowest first.  An ops module may import ops
#: modules only from its own layer or a lower one.  A module listed here that
#: does not exist (yet) is skipped; an ops module missing here is a failure.
LAYERS: tuple[tuple[str, ...], ...] = (
    # 0: leaves
    ("pmemctl.ops.backends", "pmemctl.ops.backends.ndctl", "pmemctl.ops.sizes", "pmemctl.ops.actions",
     "pmemctl.ops.views"),
    # 1
    ("pmemctl.ops.actions.base",),
    # 2: the action kinds (nd_writes: the nd write sequences the namespace steps share)
    ("pmemctl.ops.actions.memory", "pmemctl.ops.actions.dax", "pmemctl.ops.actions.nd_writes",
     "pmemctl.ops.actions.nd",
     "pmemctl.ops.actions.policy"),
    # 2b: a step that may take a spare block instead of a busy one (built on actions.memory)
    ("pmemctl.ops.actions.offline_any",),
    # 3
    ("pmemctl.ops.actions.registry",),
    # 4: the package __init__: Plan, Check, PlanBuilder
    ("pmemctl.ops.plan",),
    # 5: applying a plan (outcome: what a run came to; batched_journal: its intent events)
    ("pmemctl.ops.outcome", "pmemctl.ops.batched_journal", "pmemctl.ops.signals", "pmemctl.ops.steps",
     "pmemctl.ops.step_runner",
     "pmemctl.ops.executor"),
    # 6
    ("pmemctl.ops.select", "pmemctl.ops.requests"),
    # 7
    ("pmemctl.ops.plan.checks", "pmemctl.ops.plan.safety"),
    # 7b: whole-device hotplug through the proposed daxX.Y/state
    ("pmemctl.ops.plan.dax_state",),
    # 8
    ("pmemctl.ops.plan.dax", "pmemctl.ops.plan.blocks", "pmemctl.ops.plan.namespace"),
    # 9
    ("pmemctl.ops.plan.combined",),
    # 10: what the CLI calls (pmemctl.ops is the package __init__)
    ("pmemctl.ops.services", "pmemctl.ops.read", "pmemctl.ops",
     "pmemctl.ops.blocks"),
    # 11: provisioning layouts (issue 10): schema and records, loading, matching, planning, apply
    ("pmemctl.ops.layout.schema", "pmemctl.ops.layout.records"),
    ("pmemctl.ops.layout.load", "pmemctl.ops.layout.match", "pmemctl.ops.layout.tomlout"),
    ("pmemctl.ops.layout.policy", "pmemctl.ops.layout.plan"),
    ("pmemctl.ops.layout.regions",),
    ("pmemctl.ops.layout.daxctl", "pmemctl.ops.layout.init"),
    ("pmemctl.ops.layout.service",),
    ("pmemctl.ops.layout",),
    # 12: boot units (issue 10): the file plan of 'pmemctl boot'
    ("pmemctl.ops.boot.units",
     "pmemctl.ops.boot"),
    # 13: pmemctl doctor: the findings model, one module per group of checks, --fix planning, the service
    ("pmemctl.ops.doctor.findings",),
    ("pmemctl.ops.doctor.firmware", "pmemctl.ops.doctor.kernel", "pmemctl.ops.doctor.policy",
     "pmemctl.ops.doctor.devices", "pmemctl.ops.doctor.nodes", "pmemctl.ops.doctor.drift"),
    ("pmemctl.ops.doctor.fix",),
    ("pmemctl.ops.doctor",),
)

#: Which room a module belongs to: the longest matching prefix wins.
ROOM_OF_PREFIX: dict[str, str] = {
    "pmemctl": "base",  # pmemctl/__init__.py only (exact match, see room_of)
    "pmemctl.errors": "base",
    "pmemctl.units": "base",
    "pmemctl.immutable": "base",
    "pmemctl.commandline": "base",
    "pmemctl.__main__": "entry",
    "pmemctl.cli": "cli",
    "pmemctl.ops": "ops",
    "pmemctl.model": "model",
    "pmemctl.sysfs": "sysfs",
    "pmemctl.sim": "sim",
}

#: The rooms each room may import from.
ALLOWED_ROOMS: dict[str, frozenset[str]] = {
    "entry": frozenset({"entry", "cli", "ops", "model", "sysfs", "sim", "base"}),
    "cli": frozenset({"cli", "ops", "model", "sysfs", "sim", "base"}),
    "ops": frozenset({"ops", "model", "sysfs", "base"}),
    "model": frozenset({"model", "sysfs", "base"}),
    "sysfs": frozenset({"sysfs", "base"}),
    "sim": frozenset({"sim", "sysfs", "base"}),
    "base": frozenset({"base"}),
}

#: Rooms whose modules import pmemctl modules at module level only (the CLI
#: keeps lazy imports for start-up time; sim keeps its lazy FUSE binding).
NO_FUNCTION_LEVEL_IMPORTS = ("ops", "model", "sysfs")

#: Largest cyclomatic-complexity rank allowed for a function or method in ops.
MAX_CC_RANK = "D"

#: Longest file allowed in pmemctl/ops, in lines.
MAX_OPS_FILE_LINES = 450

#: What the type and lint checks cover.
MYPY_STRICT_PATHS = ("pmemctl/ops", "pmemctl/model", "pmemctl/sysfs")
RUFF_PATHS = ("pmemctl", "tests", "bench")

# --------------------------------------------------------------------------
# Reading the imports

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pmemctl"
#: Add-ons shipped in the source tree that drive pmemctl only through its
#: command line (the Ansible collection): in no room, outside mypy, and they
#: import nothing from pmemctl (test_contrib_imports_no_pmemctl).
CONTRIB = PACKAGE / "contrib"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@lru_cache(maxsize=None)
def module_files() -> dict[str, Path]:
    """Every pmemctl module by dotted name (a package by its own name)."""
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if CONTRIB not in p.parents}


def room_of(module: str) -> Optional[str]:
    best = None
    for prefix in ROOM_OF_PREFIX:
        if prefix == "pmemctl":
            matches = module == "pmemctl"
        else:
            matches = module == prefix or module.startswith(prefix + ".")
        if matches and (best is None or len(prefix) > len(best)):
            best = prefix
    return ROOM_OF_PREFIX[best] if best is not None else None


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the pmemctl module it names
    path: Path
    line: int
    statement: str
    function_level: bool
    type_checking: bool

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    def describe(self) -> str:
        note = "  [function-level]" if self.function_level else ""
        note += "  [TYPE_CHECKING]" if self.type_checking else ""
        statement = self.statement if len(self.statement) <= 100 else self.statement[:97] + "..."
        return f"{self.where}: {statement}{note}"


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _resolve_from(source: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = source.split(".") if is_package else source.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(source: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    known = module_files()
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = _resolve_from(source, is_package, node)
    out: list[str] = []
    for alias in node.names:
        child = f"{base}.{alias.name}"
        name = child if child in known else base
        if name not in out:
            out.append(name)
    return out


def _walk(nodes: Iterable[ast.AST], in_function: bool, in_type_checking: bool) -> Iterator[tuple[ast.AST, bool, bool]]:
    """Imports among nodes, with whether each is function-level and under TYPE_CHECKING."""
    for node in nodes:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, in_function, in_type_checking
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _walk(ast.iter_child_nodes(node), True, in_type_checking)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _walk(node.body, in_function, True)
            yield from _walk(node.orelse, in_function, in_type_checking)
        else:
            yield from _walk(ast.iter_child_nodes(node), in_function, in_type_checking)


@lru_cache(maxsize=None)
def all_imports() -> tuple[Import, ...]:
    """Every import of a pmemctl module by a pmemctl module."""
    out: list[Import] = []
    for source, path in module_files().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node, in_function, in_type_checking in _walk(tree.body, False, False):
            assert isinstance(node, (ast.Import, ast.ImportFrom))
            for target in _targets(source, is_package, node):
                if target == "pmemctl" or target.startswith("pmemctl."):
                    out.append(
                        Import(source, target, path, node.lineno, ast.unparse(node), in_function, in_type_checking)
                    )
    return tuple(out)


def _report(title: str, lines: list[str]) -> str:
    return f"{title} ({len(lines)}):\n  " + "\n  ".join(lines)


# --------------------------------------------------------------------------
# The reader itself: a rule is only as good as the imports it sees.

_SAMPLE = """
import pmemctl.a
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from pmemctl import b
else:
    import pmemctl.c
try:
    from .. import d
except ImportError:
    pass
class K:
    from pmemctl import e
def f():
    if TYPE_CHECKING:
        import pmemctl.g
    import pmemctl.h
    def inner():
        from . import i
"""


def test_reader_classifies_imports() -> None:
    seen = [
        (ast.unparse(node), in_function, in_type_checking)
        for node, in_function, in_type_checking in _walk(ast.parse(_SAMPLE).body, False, False)
    ]
    assert seen == [
        ("import pmemctl.a", False, False),
        ("from typing import TYPE_CHECKING", False, False),
        ("from pmemctl import b", False, True),
        ("import pmemctl.c", False, False),
        ("from .. import d", False, False),
        ("from pmemctl import e", False, False),
        ("import pmemctl.g", True, True),
        ("import pmemctl.h", True, False),
        ("from . import i", True, False),
    ]


def test_reader_resolves_relative_and_submodule_imports() -> None:
    def targets(source: str, is_package: bool, statement: str) -> list[str]:
        node = ast.parse(statement).body[0]
        assert isinstance(node, (ast.Import, ast.ImportFrom))
        return _targets(source, is_package, node)

    assert targets("pmemctl.ops.read", False, "from ..model import records") == ["pmemctl.model.records"]
    assert targets("pmemctl.ops.read", False, "from .. import errors, units") == ["pmemctl.errors", "pmemctl.units"]
    assert targets("pmemctl.sysfs", True, "from .door import SysfsRoot") == ["pmemctl.sysfs.door"]
    assert targets("pmemctl.cli.app", False, "from pmemctl.sysfs import SysfsRoot, paths") == [
        "pmemctl.sysfs",
        "pmemctl.sysfs.paths",
    ]
    assert room_of("pmemctl") == "base" and room_of("pmemctl.errors") == "base"
    assert room_of("pmemctl.ops.read") == "ops" and room_of("pmemctl.opsx") is None


def test_cycle_finder() -> None:
    def edge(source: str, target: str) -> Import:
        return Import(source, target, ROOT / "x.py", 1, f"import {target}", False, False)

    graph = {
        "a": {"b": edge("a", "b")},
        "b": {"c": edge("b", "c"), "a": edge("b", "a")},
        "c": {"a": edge("c", "a")},
        "d": {"a": edge("d", "a")},
    }
    assert _strongly_connected(graph) == [["a", "b", "c"]]
    assert [imp.target for imp in _one_cycle(graph, ["a", "b", "c"])] == ["b", "a"]


# --------------------------------------------------------------------------
# a. rooms


def test_every_module_has_a_room() -> None:
    lost = [f"{path.relative_to(ROOT)}: {name}" for name, path in module_files().items() if room_of(name) is None]
    assert not lost, _report("modules in no room: add them to ROOM_OF_PREFIX", lost)


def test_contrib_imports_no_pmemctl() -> None:
    """pmemctl/contrib talks to pmemctl through its command line only: no
    import of pmemctl, and no process started except by Ansible's
    module.run_command with an argument list (no shell)."""
    found = []
    for path in sorted(CONTRIB.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if node.level == 0 else []
            for name in names:
                if name.split(".")[0] in ("pmemctl", "subprocess"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: imports {name}")
            if isinstance(node, ast.keyword) and node.arg == "use_unsafe_shell":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: runs a shell")
    assert list(CONTRIB.rglob("*.py")), "pmemctl/contrib holds no Python file: is CONTRIB still right?"
    assert not found, _report("pmemctl/contrib must use pmemctl through its command line only", found)


@pytest.mark.parametrize("room", sorted(ALLOWED_ROOMS))
def test_room_imports(room: str) -> None:
    bad = []
    for imp in all_imports():
        if room_of(imp.source) != room:
            continue
        target_room = room_of(imp.target)
        if target_room not in ALLOWED_ROOMS[room]:
            bad.append(f"{imp.describe()}  ({room} must not import {target_room}: {imp.target})")
    allowed = ", ".join(sorted(ALLOWED_ROOMS[room]))
    assert not bad, _report(f"room {room} may import only {allowed}", bad)


# --------------------------------------------------------------------------
# b. cycles


def _module_graph() -> dict[str, dict[str, Import]]:
    graph: dict[str, dict[str, Import]] = {name: {} for name in module_files()}
    for imp in all_imports():
        if imp.function_level or imp.type_checking or imp.target not in graph or imp.target == imp.source:
            continue
        graph[imp.source].setdefault(imp.target, imp)
    return graph


def _strongly_connected(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _one_cycle(graph: dict[str, dict[str, Import]], component: list[str]) -> list[Import]:
    """A shortest cycle through the component's first module (BFS)."""
    members = set(component)
    start = component[0]
    previous: dict[str, Import] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child, imp in sorted(graph[node].items()):
                if child not in members:
                    continue
                if child == start:
                    path = [imp]
                    while path[0].source != start:
                        path.insert(0, previous[path[0].source])
                    return path
                if child not in previous:
                    previous[child] = imp
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle found in component {component}")  # pragma: no cover


def test_no_import_cycles() -> None:
    graph = _module_graph()
    problems = []
    for component in _strongly_connected(graph):
        cycle = _one_cycle(graph, component)
        chain = " -> ".join([cycle[0].source] + [imp.target for imp in cycle])
        edges = "\n    ".join(imp.describe() for imp in cycle)
        problems.append(f"{chain}\n    {edges}\n    (modules in this knot: {', '.join(component)})")
    assert not problems, _report("import cycles at module level", problems)


# --------------------------------------------------------------------------
# c. no lazy imports below the CLI


def test_no_function_level_imports() -> None:
    bad = [
        imp.describe()
        for imp in all_imports()
        if imp.function_level and room_of(imp.source) in NO_FUNCTION_LEVEL_IMPORTS
    ]
    rooms = "/".join(NO_FUNCTION_LEVEL_IMPORTS)
    assert not bad, _report(f"function-level imports of pmemctl modules in {rooms}: import at module level", bad)


# --------------------------------------------------------------------------
# d. layers inside ops


def _layer_of() -> dict[str, int]:
    layer_of: dict[str, int] = {}
    for number, modules in enumerate(LAYERS):
        for module in modules:
            assert module not in layer_of, f"{module} is listed twice in LAYERS"
            layer_of[module] = number
    return layer_of


def test_every_ops_module_has_a_layer() -> None:
    layer_of = _layer_of()
    missing = [
        f"{path.relative_to(ROOT)}: {name}"
        for name, path in module_files().items()
        if room_of(name) == "ops" and name not in layer_of
    ]
    assert not missing, _report("ops modules not in LAYERS: add it to LAYERS", missing)


def test_ops_layers() -> None:
    layer_of = _layer_of()
    bad = []
    for imp in all_imports():
        if room_of(imp.source) != "ops" or room_of(imp.target) != "ops":
            continue
        source_layer = layer_of.get(imp.source)
        target_layer = layer_of.get(imp.target)
        if source_layer is None or target_layer is None:
            continue  # test_every_ops_module_has_a_layer reports those
        if target_layer > source_layer:
            bad.append(
                f"{imp.describe()}  (layer {source_layer} {imp.source} imports layer {target_layer} {imp.target})"
            )
    assert not bad, _report("ops modules importing a higher layer (see LAYERS)", bad)


# --------------------------------------------------------------------------
# e, f. ruff and mypy


def _require(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.fail(f"{module} is not installed; it is in the test extra: pip install -e '.[test]'")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff() -> None:
    _require("ruff")
    result = _run("ruff", "check", "--no-fix", "--output-format", "concise", *RUFF_PATHS)
    assert result.returncode == 0, f"ruff check {' '.join(RUFF_PATHS)} failed:\n{result.stdout}{result.stderr}"


def test_mypy_strict() -> None:
    _require("mypy")
    result = _run("mypy", "--strict", *MYPY_STRICT_PATHS)
    command = f"mypy --strict {' '.join(MYPY_STRICT_PATHS)}"
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}{result.stderr}"


# --------------------------------------------------------------------------
# g, h. size of ops code


def _ops_files() -> list[Path]:
    return [path for name, path in module_files().items() if room_of(name) == "ops"]


def test_ops_complexity() -> None:
    _require("radon")
    from radon.complexity import cc_rank, cc_visit  # type: ignore[import-untyped]
    from radon.visitors import Class, Function  # type: ignore[import-untyped]

    def functions(blocks: list[Function | Class], prefix: str = "") -> Iterator[tuple[str, Function]]:
        for block in blocks:
            if isinstance(block, Function):
                yield prefix + block.name, block
                yield from functions(block.closures, f"{prefix}{block.name}.")
            else:
                yield from functions(block.methods + block.inner_classes, f"{prefix}{block.name}.")

    bad = []
    for path in _ops_files():
        for name, function in functions(cc_visit(path.read_text(encoding="utf-8"))):
            rank = cc_rank(function.complexity)
            if rank > MAX_CC_RANK:
                bad.append(f"{path.relative_to(ROOT)}:{function.lineno}: {name} is rank {rank} ({function.complexity})")
    assert not bad, _report(f"ops functions above cyclomatic-complexity rank {MAX_CC_RANK}: split them", bad)


def test_ops_file_length() -> None:
    bad = []
    for path in _ops_files():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_OPS_FILE_LINES:
            bad.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not bad, _report(f"ops files longer than {MAX_OPS_FILE_LINES} lines: split them", bad)
