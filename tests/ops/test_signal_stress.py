"""Signals at random points of a large change (issue 16, "Done when").

A real pmemctl process offlines the 960 blocks of dax0.0 on a `big` tree
(2,048 blocks); SIGINT, SIGTERM or SIGHUP, once or twice in a row, arrives at
a random moment: before the change began, during it, or after.  Whatever the
moment:

* exit 7 exactly when a journal is left, and then ``pmemctl rollback``
  restores the tree bit-exactly (every file under sys/ and proc/);
* exit 0: the change finished, every block of dax0.0 is offline;
* a signal after the change finished (the handlers are restored once the
  journal is gone: 130 or death by the signal): every block of dax0.0 is
  offline, no journal;
* anything else (130, or killed before the handlers were installed): the
  tree was not changed and no journal is left;
* never a traceback.

A few trials run by default (CI time); PMEMCTL_STRESS=1 runs 60, and
PMEMCTL_STRESS_SEED=N replays one sequence.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from pmemctl.model.discover import discover
from pmemctl.sim.build import materialise
from pmemctl.sim.scenario import load_scenario
from pmemctl.sysfs.door import SysfsRoot

REPO = Path(__file__).resolve().parents[2]
STRESS = os.environ.get("PMEMCTL_STRESS") == "1"
TRIALS = 60 if STRESS else 4
SEED = int(os.environ.get("PMEMCTL_STRESS_SEED", str(random.randrange(1 << 30))))
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_SHM = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def tree_digest(root: Path) -> str:
    """Every name, mode, link target and file content under sys/ and proc/."""
    h = hashlib.sha256()
    for top in ("sys", "proc"):
        for dirpath, dirnames, filenames in os.walk(root / top):
            dirnames.sort()
            for name in sorted(filenames + dirnames):
                p = os.path.join(dirpath, name)
                st = os.lstat(p)
                h.update(f"{os.path.relpath(p, root)} {st.st_mode:o}\n".encode())
                if os.path.islink(p):
                    h.update(os.readlink(p).encode())
                elif os.path.isfile(p):
                    with open(p, "rb") as fh:
                        h.update(fh.read())
    return h.hexdigest()


@pytest.fixture(scope="module")
def template():
    base = Path(tempfile.mkdtemp(prefix="pmemctl-signal-stress-", dir=_SHM))
    materialise(load_scenario("big", {"blocks": "2048"}), base / "template")
    yield base
    shutil.rmtree(base, ignore_errors=True)


def pmemctl(root: Path, *args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1")
    env.pop("PMEMCTL_SYSROOT", None)
    return subprocess.Popen([sys.executable, "-m", "pmemctl", "--sysroot", str(root), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kw)


def dax0_online(root: Path) -> list[int]:
    blocks = discover(SysfsRoot(root)).blocks
    return [b.index for b in blocks if b.device == "dax0.0" and b.online]


@pytest.mark.parametrize("trial", range(TRIALS))
def test_a_signal_at_a_random_point_of_a_large_change(template, trial):
    rng = random.Random(SEED * 1000 + trial)
    root = template / f"t{trial}"
    shutil.copytree(template / "template", root, symlinks=True)
    try:
        before = tree_digest(root)
        sigs = [rng.choice(SIGNALS) for _ in range(rng.choice((1, 1, 2)))]
        wait_for_journal = rng.random() < 0.8  # mostly during the change, sometimes before it began
        delay = rng.uniform(0, 0.4) if wait_for_journal else rng.uniform(0, 1.5)
        what = f"seed {SEED} trial {trial}: {[s.name for s in sigs]} after {delay:.2f} s" + (
            " from the journal's appearance" if wait_for_journal else " from the start")
        journal = root / "var/lib/pmemctl/journal.json"
        proc = pmemctl(root, "offline", "dax0.0", "--yes")
        if wait_for_journal:
            deadline = time.monotonic() + 60
            while not journal.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
        time.sleep(delay)
        for sig in sigs:
            if proc.poll() is None:
                proc.send_signal(sig)
            time.sleep(rng.uniform(0, 0.05))
        out, err = proc.communicate(timeout=120)
        rc = proc.returncode
        assert "Traceback" not in err, (what, err)
        left = journal.exists()
        if rc == 7:
            assert left, (what, out, err)
            rb = pmemctl(root, "rollback")
            rb_out, rb_err = rb.communicate(timeout=300)
            assert rb.returncode in (0, 3), (what, rb_out, rb_err)  # 3: stopped before its first block
            assert not journal.exists(), what
            assert tree_digest(root) == before, what  # bit-exact
        elif rc == 0:
            assert not left, what
            assert dax0_online(root) == [], what
        elif tree_digest(root) != before:
            # the signal landed after the change finished (the handlers are
            # restored only once the journal is gone): Python's own default
            # (130 for SIGINT) or death by the signal, with the change whole
            # and nothing left to roll back
            assert not left, (what, rc, err)
            assert dax0_online(root) == [], what
        else:
            # stopped before the change began: nothing written, nothing left
            assert not left, (what, rc, err)
            assert tree_digest(root) == before, (what, rc, err)
    finally:
        shutil.rmtree(root, ignore_errors=True)
