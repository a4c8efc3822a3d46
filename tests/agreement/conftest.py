"""Fixtures of the agreement tier: simulated trees read by the real tools
(the trees themselves: tests/conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# realtools.py is a helper module beside the tests (not a package).
sys.path.insert(0, str(Path(__file__).parent))

from realtools import real_tool_skip_reason


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
