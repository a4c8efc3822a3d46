"""Issue 15, item 1 (status): without root, ``status`` works even though the
state directory is root's and mode 0700 (as pmemctl creates it).  The journal
is then reported as unknown (``journal_readable: false``), exit 0, with the
command to run as root, instead of a "damaged journal" refusal (exit 10)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from cli_support import check_schema
from test_read_without_root import _open_to_others, run_as_nobody

from pmemctl.errors import ExitCode

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to an ordinary user (uid 65534)")


@pytest.fixture
def changed_tree(fresh_tree: Callable[..., Path], invoke: Any) -> Iterator[Path]:
    """A tree after a change as root, in a place others can reach:
    /var/lib/pmemctl exists, 0700, root's, as pmemctl made it."""
    public = Path(tempfile.mkdtemp(prefix="pmemctl-status-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    os.chmod(public, 0o755)
    tree = public / "root"
    shutil.copytree(fresh_tree("qemu-nvdimm", stage="system-ram"), tree, symlinks=True)
    try:
        assert invoke("--sysroot", tree, "offline", "dax0.0", "--count", "1", "--yes").exit_code == 0
        state = tree / "var/lib/pmemctl"
        assert state.is_dir() and state.stat().st_mode & 0o777 == 0o700
        _open_to_others(tree)
        os.chmod(state, 0o700)  # the state directory stays root's
        yield tree
    finally:
        shutil.rmtree(public, ignore_errors=True)


def test_status_as_an_ordinary_user_says_the_journal_is_unknown(changed_tree: Path) -> None:
    code, out, err = run_as_nobody("--sysroot", str(changed_tree), "status")
    assert code == ExitCode.OK, err
    assert "unknown" in out and "only by root" in out
    assert f"sudo pmemctl --sysroot {changed_tree} status" in out
    assert "cannot be read" not in err and "exception" not in err


def test_status_json_as_an_ordinary_user(changed_tree: Path) -> None:
    code, out, err = run_as_nobody("--sysroot", str(changed_tree), "status", "--json")
    assert code == ExitCode.OK, err
    doc = json.loads(out)
    check_schema(doc)
    assert doc["journal_readable"] is False
    assert doc["unfinished"] is None and doc["last_run"] is None


def test_status_as_root_still_reads_it(invoke: Any, changed_tree: Path) -> None:
    doc = json.loads(invoke("--sysroot", changed_tree, "status", "--json").stdout)
    assert doc["journal_readable"] is True and doc["last_run"] is not None
