"""Layout tier: layout files against simulated machines (issue 10)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from cli_support import make_runner  # noqa: E402

from pmemctl.cli.main import cli  # noqa: E402

Invoke = Callable[..., Result]


@pytest.fixture
def runner() -> CliRunner:
    return make_runner()


@pytest.fixture
def invoke(runner: CliRunner) -> Invoke:
    def _invoke(*args: Any, **kwargs: Any) -> Result:
        return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False, **kwargs)

    return _invoke


@pytest.fixture(scope="session")
def _built(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    from pmemctl.sim import build

    cache: dict[tuple[str, tuple[tuple[str, str], ...]], Path] = {}

    def _tree(name: str, **params: Any) -> Path:
        key = (name, tuple(sorted((k, str(v)) for k, v in params.items())))
        if key not in cache:
            label = "-".join([name] + [f"{k}_{v}" for k, v in key[1]])
            cache[key] = Path(build.materialise(name, tmp_path_factory.mktemp(label) / "root", dict(key[1])))
        return cache[key]

    return _tree


@pytest.fixture
def tree(_built: Callable[..., Path], tmp_path: Path) -> Callable[..., Path]:
    """``tree("optane-2s")``: a private, writable simulated machine."""
    count = [0]

    def _fresh(name: str, **params: Any) -> Path:
        count[0] += 1
        dest = tmp_path / f"{name}-{count[0]}"
        shutil.copytree(_built(name, **params), dest, symlinks=True)
        return dest

    return _fresh
