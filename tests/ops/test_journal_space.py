"""A full file system under the journal (issue 16, item 12).

Before: a nearly full state directory turned a completed change into exit 1
with a journal neither resume nor rollback could clear (ENOSPC), and
``journal.json.tmp.PID`` files piled up.  Now a run reserves room for its
journal before the first step (no room: refused, nothing changed), gives
the reserve back when the file system fills meanwhile, and a summary that
cannot be written never keeps a finished change's journal.

The file system is real: a small tmpfs mounted over the tree's
``var/lib/pmemctl`` in a private mount namespace (``unshare -Urm``); the
test is skipped where user namespaces are not available.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

CHILD_PRELUDE = textwrap.dedent('''
    import errno, json, os, sys
    from pmemctl.errors import PmemctlError
    from pmemctl.model.discover import discover
    from pmemctl.ops import services
    from pmemctl.ops.executor import ApplyOptions, Executor
    from pmemctl.ops.requests import BlockRequest
    from pmemctl.sim.kernel import SimulatedKernel

    k = SimulatedKernel(sys.argv[1])
    state_dir = os.path.join(sys.argv[1], "var/lib/pmemctl")

    def fill(leave=0):
        """Take all the space of the journal's file system but ``leave`` bytes."""
        st = os.statvfs(state_dir)
        free = st.f_bavail * st.f_frsize - leave
        n = 0
        while os.path.exists(os.path.join(state_dir, f"filler{n}")):
            n += 1
        with open(os.path.join(state_dir, f"filler{n}"), "wb") as fh:
            try:
                while free > 0:
                    free -= fh.write(b"x" * min(free, 4096))
                    fh.flush()
            except OSError as err:
                assert err.errno == errno.ENOSPC

    def online_blocks():
        return sorted(b.index for b in discover(k).blocks if b.device == "dax0.0" and b.online)

    def opts(**kw):
        return services.RunOptions(yes=True, apply=ApplyOptions(offline_timeout=2, wait_timeout=2, **kw))

    def report(**kw):
        names = sorted(n for n in os.listdir(state_dir) if not n.startswith("filler"))
        print(json.dumps({"files": names, **kw}))
''')


def run_child(tree: Path, body: str) -> dict:
    script = (f"mount -t tmpfs -o size=256k,mode=0700 pmemctl-test {tree}/var/lib/pmemctl"
              ' && exec "$0" -c "$1" "$2"')
    code = CHILD_PRELUDE + textwrap.dedent(body)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(["unshare", "-Urm", "sh", "-c", script, sys.executable, code, str(tree)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def tree(make_machine):
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    k = make_machine("qemu-nvdimm", stage="system-ram")
    root = Path(k.root)
    (root / "var/lib/pmemctl").mkdir(parents=True, mode=0o700)
    probe = subprocess.run(["unshare", "-Urm", "sh", "-c", f"mount -t tmpfs -o size=64k t {root}/var/lib/pmemctl"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a user namespace here: {probe.stderr.strip()}")
    return root


def test_no_room_for_the_journal_refuses_before_the_first_step(tree):
    out = run_child(tree, '''
        before = online_blocks()
        fill()
        try:
            services.offline(k, BlockRequest(device="dax0.0", count=3), opts())
            report(error=None)
        except PmemctlError as err:
            report(error=err.sentence(), code=int(err.exit_code), same=online_blocks() == before)
    ''')
    assert out["code"] == 5 and "no room for the journal" in out["error"] and "nothing was changed" in out["error"]
    assert out["same"] is True
    assert out["files"] == []  # no journal left to block the next run, no temporaries


def test_a_file_system_filling_up_during_the_run_does_not_keep_a_finished_change_pending(tree):
    out = run_child(tree, '''
        def fill_at_second_step(i, action):
            if i == 1:
                fill()
        result = services.offline(k, BlockRequest(device="dax0.0", count=3), opts(before_step=fill_at_second_step))
        report(status=str(result.outcome.status), code=int(result.outcome.exit_code),
               pending=Executor(k).journal.load() is not None, online=len(online_blocks()))
    ''')
    assert out["status"] == "changed" and out["code"] == 0
    assert out["pending"] is False
    assert out["online"] == 30 - 3
    assert not any(n.startswith("journal") for n in out["files"])  # journal, log, reserve, temporaries: gone


def test_rollback_on_a_full_file_system_finishes(tree):
    out = run_child(tree, '''
        before = online_blocks()
        def stop(i, action):
            if i == 2:
                raise KeyboardInterrupt
        try:
            services.offline(k, BlockRequest(device="dax0.0", count=4), opts(before_step=stop))
        except PmemctlError as err:
            interrupted = int(err.exit_code)
        fill()
        out = services.rollback(k, opts())
        report(interrupted=interrupted, status=str(out.status), same=online_blocks() == before,
               pending=Executor(k).journal.load() is not None)
    ''')
    assert out["interrupted"] == 7
    assert out["status"] == "rolled-back" and out["same"] is True and out["pending"] is False


def test_temporaries_of_a_killed_run_are_cleaned(make_machine):
    from pmemctl.sysfs.state import Journal

    k = make_machine("qemu-nvdimm", stage="system-ram")
    d = Path(k.root) / "var/lib/pmemctl"
    d.mkdir(parents=True, mode=0o700)
    for pid in (4242, 4343):
        (d / f"journal.json.tmp.{pid}").write_text("{")
        (d / f"last-run.json.tmp.{pid}").write_text("{")
    j = Journal(k)
    j.begin({"plan": {"title": "t", "actions": []}, "state": "applying"})
    j.finish({"state": "finished", "status": "changed"})
    assert sorted(p.name for p in d.iterdir()) == ["last-run.json"]
