"""Issue 15, item 8 (second half): ``rollback`` and ``resume`` take
``--dry-run`` and show their plan first: the undo steps newest first (or the
steps left) with their exact writes; nothing is written, the journal stays,
and ``--json`` gives a ``recovery`` document with the plan and a null outcome."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_support import Invoke, check_schema, tree_digest
from test_rollback_result import invoke_tree

from pmemctl.errors import ExitCode
from pmemctl.sim.kernel import faults


@pytest.fixture
def unfinished(fresh_tree: Any) -> Path:
    """devdax → system-ram failed after detaching device_dax; the undo failed too."""
    tree = fresh_tree("qemu-nvdimm", stage="devdax")
    faults.inject(tree, "bind-fail", driver="kmem", device="dax0.0")
    faults.inject(tree, "bind-fail", driver="device_dax", device="dax0.0")
    assert invoke_tree(tree, "reconfigure", "dax0.0", "-m", "system-ram", "--yes") == ExitCode.ROLLBACK_INCOMPLETE
    faults.clear(tree)
    return tree


def test_rollback_dry_run_shows_the_undo_and_writes_nothing(invoke: Invoke, unfinished: Path) -> None:
    before = tree_digest(unfinished)
    res = invoke("--sysroot", unfinished, "rollback", "--dry-run")
    assert res.exit_code == ExitCode.OK, res.stderr
    out = res.stdout
    assert "roll back: reconfigure dax0.0 to system-ram" in out
    assert "attach dax0.0 to the device_dax driver" in out
    assert "device_dax/bind" in out  # the exact write
    assert "dry run: nothing was written" in out
    assert tree_digest(unfinished) == before
    # and the real rollback then does what the dry run said
    real = invoke("--sysroot", unfinished, "rollback")
    assert real.exit_code == 0 and "attach dax0.0 to the device_dax driver" in real.stdout


def test_rollback_dry_run_json(invoke: Invoke, unfinished: Path) -> None:
    res = invoke("--sysroot", unfinished, "rollback", "--dry-run", "--json")
    assert res.exit_code == ExitCode.OK
    doc = json.loads(res.stdout)
    check_schema(doc)
    assert doc["dry_run"] is True and doc["outcome"] is None
    kinds = [s["kind"] for s in doc["plan"]["steps"]]
    assert kinds and all(s["writes"] for s in doc["plan"]["steps"] if s["kind"] == "bind"), kinds


def test_resume_dry_run_shows_the_steps_left(invoke: Invoke, unfinished: Path) -> None:
    before = tree_digest(unfinished)
    res = invoke("--sysroot", unfinished, "resume", "--dry-run")
    assert res.exit_code == ExitCode.OK, res.stderr
    assert "resume: reconfigure dax0.0 to system-ram" in res.stdout
    assert "kmem" in res.stdout and "dry run: nothing was written" in res.stdout
    assert tree_digest(unfinished) == before


@pytest.mark.parametrize("command", ["rollback", "resume"])
def test_dry_run_with_nothing_unfinished(invoke: Invoke, fresh_tree: Any, command: str) -> None:
    tree = fresh_tree("qemu-nvdimm", stage="devdax")
    res = invoke("--sysroot", tree, command, "--dry-run")
    assert res.exit_code == ExitCode.NO_CHANGE
    assert "no unfinished change" in res.stdout
    assert not (tree / "var").exists() and not (tree / "run").exists()
