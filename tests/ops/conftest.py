"""Fixtures for the ops tier: simulated machines the executor changes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import pytest

from pmemctl.sim.build import materialise
from pmemctl.sim.kernel import SimulatedKernel
from pmemctl.sim.scenario import load_scenario, scenario_from_toml

from ops_support import tiny_scenario_text

_CACHE: dict[tuple[str, tuple[tuple[str, str], ...]], Path] = {}


@pytest.fixture(scope="session")
def _template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("templates")


@pytest.fixture
def make_machine(tmp_path: Path, _template_dir: Path) -> Callable[..., SimulatedKernel]:
    """make_machine("qemu-nvdimm", stage="devdax") -> a SimulatedKernel on a
    fresh copy of that scenario's tree (templates are built once a session)."""
    counter = [0]

    def make(name: str, **params: str) -> SimulatedKernel:
        key = (name, tuple(sorted(params.items())))
        template = _CACHE.get(key)
        if template is None or not template.exists():
            template = _template_dir / f"{name}-{len(_CACHE)}"
            if name == "tiny":
                materialise(scenario_from_toml("tiny", tiny_scenario_text(), params), template)
            else:
                materialise(load_scenario(name, params), template)
            _CACHE[key] = template
        counter[0] += 1
        dest = tmp_path / f"m{counter[0]}"
        shutil.copytree(template, dest, symlinks=True)
        return SimulatedKernel(dest)

    return make
