"""Fixtures of the agreement tier: simulated trees read by the real tools."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

from pmemctl.sim.cases import ALL_CASES, Case, TreeCache
from pmemctl.sim.scenario import Scenario

# realtools.py is a helper module beside the tests (not a package).
sys.path.insert(0, str(Path(__file__).parent))

from realtools import real_tool_skip_reason


@pytest.fixture(scope="session")
def agreement_trees() -> Iterator[TreeCache]:
    with TreeCache() as cache:
        yield cache


@pytest.fixture(params=ALL_CASES, ids=lambda case: case.id)
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def built(case: Case, agreement_trees: TreeCache) -> tuple[Path, Scenario]:
    return agreement_trees.get(case)


def require_real_tools(*tools: str) -> None:
    reason = real_tool_skip_reason(*tools)
    if reason:
        pytest.skip(reason)


@pytest.fixture
def daxctl_ready() -> None:
    require_real_tools("daxctl")


@pytest.fixture
def ndctl_ready() -> None:
    require_real_tools("ndctl")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.agreement)
