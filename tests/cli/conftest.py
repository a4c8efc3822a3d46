"""CLI tier: CliRunner with NO_COLOR and a fixed width, against scenario trees.

Scenario trees come from ``pmemctl.sim.build.materialise`` and are built once
per session and parameter set (they are only read here).  Each tree carries
the resolved machine in ``.pmemctl-sim/scenario.json``; ``cli_support.machine``
loads it, so tests check the CLI's output against what the scenario says.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
from cli_support import Invoke, make_runner
from click.testing import CliRunner, Result

from pmemctl.cli.main import cli


@pytest.fixture
def runner() -> CliRunner:
    return make_runner()


@pytest.fixture
def invoke(runner: CliRunner) -> Invoke:
    """``invoke("--sysroot", d, "list", "--json")`` → click Result (exceptions propagate)."""

    def _invoke(*args: Any, **kwargs: Any) -> Result:
        return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False, **kwargs)

    return _invoke


@pytest.fixture(scope="session")
def scenario_tree(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``scenario_tree("qemu-nvdimm", stage="system-ram")`` → a built tree (cached)."""
    build = pytest.importorskip("pmemctl.sim.build", reason="pmemctl.sim.build (the simulator) is not there yet")
    cache: dict[tuple[str, tuple[tuple[str, str], ...]], Path] = {}

    def _tree(name: str, **params: Any) -> Path:
        key = (name, tuple(sorted((k, str(v)) for k, v in params.items())))
        if key not in cache:
            label = "-".join([name] + [f"{k}_{v}" for k, v in key[1]])
            dest = tmp_path_factory.mktemp(label) / "root"
            cache[key] = Path(build.materialise(name, dest, dict(key[1])))
        return cache[key]

    return _tree


@pytest.fixture
def fresh_tree(scenario_tree: Callable[..., Path], tmp_path: Path) -> Callable[..., Path]:
    """A private, writable copy of a scenario tree (for corrupting attributes)."""

    def _fresh(name: str, **params: Any) -> Path:
        dest = tmp_path / f"{name}-copy"
        shutil.copytree(scenario_tree(name, **params), dest, symlinks=True)
        return dest

    return _fresh
