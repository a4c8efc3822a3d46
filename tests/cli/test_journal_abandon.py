"""``pmemctl journal abandon`` (issue 16, item 11): the way out of an
unfinished journal that rollback and resume cannot settle.

It archives the journal under the state directory (renamed with a time,
never deleted), changes nothing on the machine, says plainly what state the
machine is left in, and new changes are allowed again.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

import pytest
from cli_support import Invoke, tree_digest

from pmemctl.errors import ExitCode
from pmemctl.sim.kernel import faults

STATE = "var/lib/pmemctl"




def _archives(tree: Path) -> list[str]:
    return sorted(p.name for p in (tree / STATE).iterdir() if ".abandoned-" in p.name)


@pytest.fixture
def unfinished(fresh_tree: Any, invoke: Invoke) -> Path:
    """A devdax tree whose conversion failed and could not be undone (journal kept)."""
    tree = fresh_tree("qemu-nvdimm", stage="devdax")
    faults.inject(tree, "bind-fail", driver="kmem", device="dax0.0")
    faults.inject(tree, "bind-fail", driver="device_dax", device="dax0.0")
    res = invoke("--sysroot", tree, "reconfigure", "dax0.0", "-m", "system-ram", "--yes")
    assert res.exit_code == ExitCode.ROLLBACK_INCOMPLETE, res.output
    faults.clear(tree)
    assert (tree / STATE / "journal.json").is_file()
    return tree


def test_abandon_archives_the_journal_and_leaves_the_machine(invoke: Invoke, unfinished: Path) -> None:
    tree = unfinished
    header = (tree / STATE / "journal.json").read_bytes()
    log = (tree / STATE / "journal.log").read_bytes()
    machine = tree_digest(tree, "sys")
    assert invoke("--sysroot", tree, "reconfigure", "dax0.0", "-m", "devdax", "--yes").exit_code == ExitCode.LOCKED

    dry = invoke("--sysroot", tree, "journal", "abandon", "--dry-run")
    assert dry.exit_code == ExitCode.OK, dry.output
    assert "left as it is, NOT rolled back" in dry.stdout
    assert "dax0.0 is bound to NO driver" in dry.stdout  # describe_state: what the machine is now
    assert "dry run: nothing was renamed" in dry.stdout
    assert (tree / STATE / "journal.json").read_bytes() == header and _archives(tree) == []

    refused = invoke("--sysroot", tree, "journal", "abandon")  # a script without --yes
    assert refused.exit_code == ExitCode.REFUSED
    assert "gives up 'rollback' and 'resume'" in refused.stderr and "--yes" in refused.stderr
    assert (tree / STATE / "journal.json").read_bytes() == header

    done = invoke("--sysroot", tree, "journal", "abandon", "--yes")
    assert done.exit_code == ExitCode.OK, done.output
    assert "left as it is, NOT rolled back" in done.stdout and "dax0.0 is bound to NO driver" in done.stdout
    names = _archives(tree)
    assert [n.split(".abandoned-")[0] for n in names] == ["journal.json", "journal.log"]
    assert names[0].split(".abandoned-")[1] == names[1].split(".abandoned-")[1]  # one time for both
    assert (tree / STATE / names[0]).read_bytes() == header  # archived, byte for byte
    assert (tree / STATE / names[1]).read_bytes() == log
    assert f"kept as {tree / STATE / names[0]}" in done.stdout
    assert not (tree / STATE / "journal.json").exists() and not (tree / STATE / "journal.log").exists()
    assert tree_digest(tree, "sys") == machine  # nothing on the machine was written

    status = invoke("--sysroot", tree, "status", "--json")
    assert status.exit_code == ExitCode.OK and json.loads(status.stdout)["unfinished"] is None
    assert invoke("--sysroot", tree, "rollback").exit_code == ExitCode.NO_CHANGE
    again = invoke("--sysroot", tree, "journal", "abandon", "--yes")
    assert again.exit_code == ExitCode.NO_CHANGE and "nothing to abandon" in again.stdout
    # new changes are allowed again
    res = invoke("--sysroot", tree, "reconfigure", "dax0.0", "-m", "devdax", "--yes")
    assert res.exit_code not in (ExitCode.LOCKED, ExitCode.FAILED), res.output


@pytest.mark.parametrize("content", [b"{garbage", b"", b"[]", b"\xff\xfe", b'{"plan": {"actions": [{"kind": "??"}]}}'])
def test_a_damaged_journal_can_be_abandoned(invoke: Invoke, fresh_tree: Any, content: bytes) -> None:
    tree = fresh_tree("qemu-nvdimm", stage="devdax")
    (tree / STATE).mkdir(parents=True, mode=0o700, exist_ok=True)
    (tree / STATE / "journal.json").write_bytes(content)
    assert invoke("--sysroot", tree, "status").exit_code == ExitCode.LOCKED
    res = invoke("--sysroot", tree, "journal", "abandon", "--yes")
    assert res.exit_code == ExitCode.OK, res.output
    assert "cannot be read" in res.stdout  # what it touched cannot be told: said so
    assert "left as it is" in res.stdout
    assert [n.split(".abandoned-")[0] for n in _archives(tree)] == ["journal.json"]
    assert invoke("--sysroot", tree, "status").exit_code == ExitCode.OK


def test_abandon_never_overwrites_an_earlier_archive(invoke: Invoke, fresh_tree: Any) -> None:
    tree = fresh_tree("qemu-nvdimm", stage="devdax")
    (tree / STATE).mkdir(parents=True, mode=0o700, exist_ok=True)
    for n in range(3):  # in the same second, most likely
        (tree / STATE / "journal.json").write_text(f"damaged {n}")
        assert invoke("--sysroot", tree, "journal", "abandon", "-y").exit_code == ExitCode.OK
    texts = sorted((tree / STATE / name).read_text() for name in _archives(tree))
    assert texts == ["damaged 0", "damaged 1", "damaged 2"]


def test_a_run_in_progress_keeps_its_journal(invoke: Invoke, unfinished: Path) -> None:
    lock = unfinished / "run/lock/pmemctl.lock"
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        res = invoke("--sysroot", unfinished, "journal", "abandon", "--yes")
        assert res.exit_code == ExitCode.LOCKED
    finally:
        os.close(fd)
    assert (unfinished / STATE / "journal.json").is_file() and _archives(unfinished) == []


def test_the_readme_documents_the_way_out() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    safety = readme.split("## Safety model", 1)[1].split("\n## ", 1)[0]
    assert "pmemctl journal abandon" in safety
