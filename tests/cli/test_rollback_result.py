"""Issue 15, item 8: a rollback that restored everything says so.

In words ("done", not "FAILED"), in ``--json`` (``outcome.exit_code`` 0)
and in the exit status (0), all three agreeing; a rollback that could not
finish still says FAILED and exits with its own code, again in agreement.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from cli_support import Invoke

from pmemctl.errors import ExitCode
from pmemctl.sim.kernel import faults


@pytest.fixture
def unfinished(fresh_tree: Any) -> Path:
    """A devdax tree whose conversion failed and could not be undone (journal kept)."""
    tree = fresh_tree("qemu-nvdimm", stage="devdax")
    faults.inject(tree, "bind-fail", driver="kmem", device="dax0.0")
    faults.inject(tree, "bind-fail", driver="device_dax", device="dax0.0")
    assert invoke_tree(tree, "reconfigure", "dax0.0", "-m", "system-ram", "--yes") == ExitCode.ROLLBACK_INCOMPLETE
    faults.clear(tree)
    return tree


def invoke_tree(tree: Path, *args: str) -> int:
    from cli_support import make_runner

    from pmemctl.cli.main import cli

    return make_runner().invoke(cli, ["--sysroot", str(tree), *args]).exit_code


def test_rollback_that_restored_everything_agrees_everywhere(invoke: Invoke, unfinished: Path,
                                                             tmp_path: Path) -> None:
    twin = tmp_path / "twin"
    shutil.copytree(unfinished, twin, symlinks=True)

    words = invoke("--sysroot", unfinished, "rollback")
    assert words.exit_code == 0, words.output
    assert "FAILED" not in words.stdout
    assert "result:      done" in words.stdout
    assert "attach dax0.0 to the device_dax driver" in words.stdout  # the undo step, said as taken

    doc = invoke("--sysroot", twin, "rollback", "--json")
    assert doc.exit_code == 0, doc.output
    outcome = json.loads(doc.stdout)["outcome"]
    assert outcome["status"] == "rolled-back"
    assert outcome["exit_code"] == doc.exit_code == words.exit_code == 0
    assert invoke("--sysroot", unfinished, "status").exit_code == 0


def test_rollback_that_could_not_finish_agrees_too(invoke: Invoke, unfinished: Path) -> None:
    faults.inject(unfinished, "bind-fail", driver="device_dax", device="dax0.0")
    res = invoke("--sysroot", unfinished, "rollback", "--json")
    code = json.loads(res.stdout)["outcome"]["exit_code"]
    assert res.exit_code == code == ExitCode.ROLLBACK_INCOMPLETE
    res = invoke("--sysroot", unfinished, "rollback")
    assert res.exit_code == ExitCode.ROLLBACK_INCOMPLETE and "FAILED" in res.stdout
    faults.clear(unfinished)


def test_rollback_with_nothing_to_do(invoke: Invoke, fresh_tree: Any) -> None:
    tree = fresh_tree("qemu-nvdimm", stage="devdax")
    res = invoke("--sysroot", tree, "rollback", "--json")
    assert res.exit_code == json.loads(res.stdout)["outcome"]["exit_code"]
