"""Fixtures of the simulator's contract tests (the shared trees: tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pmemctl.sim.tree import TreeWriter


@pytest.fixture
def writer(tmp_path: Path) -> TreeWriter:
    """An empty tree to exercise the primitives and object functions on."""
    return TreeWriter(tmp_path / "root")

