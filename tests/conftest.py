"""Fixtures shared by the tiers that read simulated trees (sim, model,
agreement): each scenario case is built once per session, not once per tier."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from pmemctl.sim.cases import ALL_CASES, Case, TreeCache
from pmemctl.sim.scenario import Scenario


@pytest.fixture(scope="session")
def sim_trees() -> Iterator[TreeCache]:
    """Every case materialised once per session (on tmpfs when available);
    shared between tests: copy a tree before changing it."""
    with TreeCache() as cache:
        yield cache


@pytest.fixture(params=ALL_CASES, ids=lambda case: case.id)
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def built(case: Case, sim_trees: TreeCache) -> tuple[Path, Scenario]:
    """(tree root, scenario) of the current case; shared, do not modify."""
    return sim_trees.get(case)
