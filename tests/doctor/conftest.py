"""Doctor tier: simulated trees with conditions put in (pmemctl.sim.conditions),
read by ``pmemctl doctor`` through the CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from click.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

from cli_support import check_schema, make_runner  # noqa: E402
from doctor_support import Build  # noqa: E402

from pmemctl.cli.main import cli  # noqa: E402


@pytest.fixture
def runner() -> CliRunner:
    return make_runner()


@pytest.fixture
def invoke(runner: CliRunner) -> Callable[..., Result]:
    def _invoke(*args: Any) -> Result:
        return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return _invoke


@pytest.fixture
def doctor(invoke: Callable[..., Result]) -> Callable[..., tuple[int, dict[str, Any]]]:
    """``doctor(tree, *options)`` → (exit code, the checked JSON document)."""
    def run(tree: Path, *options: str) -> tuple[int, dict[str, Any]]:
        result = invoke("--sysroot", tree, "doctor", "--json", *options)
        assert result.exit_code in (0, 12, 13), result.stderr + result.stdout
        doc = json.loads(result.stdout)
        check_schema(doc)
        return result.exit_code, doc
    return run


@pytest.fixture
def build(tmp_path: Path) -> Iterator[Build]:
    """``build("qemu-nvdimm", {"stage": "system-ram"}, "udev-rule", ...)`` → a fresh tree."""
    from pmemctl.sim.build import materialise
    from pmemctl.sim.conditions import apply_conditions

    count = [0]

    def make(scenario: str, params: dict[str, str] | None = None, *conditions: str) -> Path:
        count[0] += 1
        root = materialise(scenario, tmp_path / f"tree{count[0]}", params or {})
        apply_conditions(root, list(conditions))
        return root
    yield make
