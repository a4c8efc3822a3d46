"""Fixtures for the ops tier: simulated machines the executor changes."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import pytest
from ops_support import tiny_scenario_text

from pmemctl.sim.build import materialise
from pmemctl.sim.kernel import SimulatedKernel
from pmemctl.sim.scenario import load_scenario, scenario_from_toml

_CACHE: dict[tuple[str, tuple[tuple[str, str], ...]], Path] = {}


#: sysfs lives in memory: build the trees on tmpfs where there is one
_SHM = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


@pytest.fixture(scope="session")
def _template_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pmemctl-ops-templates-", dir=_SHM))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def _work_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pmemctl-ops-", dir=_SHM))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_machine(_work_dir: Path, _template_dir: Path) -> Callable[..., SimulatedKernel]:
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
        dest = _work_dir / f"m{counter[0]}"
        shutil.copytree(template, dest, symlinks=True)
        return SimulatedKernel(dest)

    return make
