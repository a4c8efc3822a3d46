"""Every failure inside apply is rolled back and told truthfully; signals
(SIGINT, SIGTERM, SIGHUP, twice, during the undo) never abandon a change
half-way; a damaged journal is a typed error (issue 16, items 6, 7, 11)."""

from __future__ import annotations

import errno
import json
import os
import signal

import pytest

from pmemctl.errors import DamagedJournal, ExitCode, Interrupted, OutsideSysroot
from pmemctl.model.discover import discover
from pmemctl.ops import services
from pmemctl.ops.executor import ApplyOptions, Executor, StepFailed
from pmemctl.ops.plan.blocks import plan_offline
from pmemctl.ops.plan.combined import plan_reconfigure
from pmemctl.ops.requests import BlockRequest, ReconfigureRequest
from pmemctl.sysfs.state import Journal

TO_RAM = ReconfigureRequest("dax0.0", "system-ram")


@pytest.fixture(autouse=True)
def _restore_signal_handlers():
    """An interrupted change leaves the three signals ignored (the process is
    about to exit 7); give the test process its handlers back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield
    for s, h in saved.items():
        signal.signal(s, h)


def machine_state(k):
    topo = discover(k)
    return (topo.dax_device("dax0.0").driver,
            sorted((b.index, b.online) for b in topo.blocks if b.device == "dax0.0"))


def executor(k, **kw):
    return Executor(k, ApplyOptions(offline_timeout=2, wait_timeout=2, **kw))


def at_step(n, exc):
    def hook(i, action):
        if i == n:
            raise exc
    return hook


# -- item 6: any exception inside apply rolls its unit back ----------------------


@pytest.mark.parametrize("exc", [
    KeyError("node3"),
    OutsideSysroot("memory50/state resolves outside the sysroot"),
    OSError(errno.ENOSPC, "No space left on device"),
    RuntimeError("boom"),
], ids=["KeyError", "OutsideSysroot", "ENOSPC", "RuntimeError"])
def test_any_exception_in_a_step_rolls_the_unit_back(make_machine, exc):
    k = make_machine("qemu-nvdimm", stage="devdax")
    before = machine_state(k)
    ex = executor(k, before_step=at_step(12, exc))
    out = ex.apply(plan_reconfigure(k, discover(k), TO_RAM))
    assert out.status == "rolled-back" and out.exit_code == ExitCode.ROLLED_BACK, out.message
    assert type(exc).__name__ in out.message or "outside the sysroot" in out.message
    assert machine_state(k) == before
    assert ex.journal.load() is None  # consistent: nothing left to recover


def test_an_exception_in_an_offline_walk_onlines_the_blocks_again(make_machine):
    k = make_machine("qemu-nvdimm", stage="system-ram")
    before = machine_state(k)
    plan = plan_offline(k, discover(k), BlockRequest(device="dax0.0", count=25))
    out = executor(k, before_step=at_step(22, KeyError("node7"))).apply(plan)
    assert out.exit_code in (ExitCode.ROLLED_BACK, ExitCode.PARTIAL), out.message
    if out.exit_code == ExitCode.ROLLED_BACK:
        assert machine_state(k) == before
    assert Executor(k).journal.load() is None


def test_a_journal_that_cannot_be_written_mid_run_still_rolls_back(make_machine, monkeypatch):
    k = make_machine("qemu-nvdimm", stage="devdax")
    before = machine_state(k)
    ex = executor(k)
    calls = {"n": 0}
    real_event = ex.journal.event

    def event(*a, **kw):
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_event(*a, **kw)

    monkeypatch.setattr(ex.journal, "event", event)
    out = ex.apply(plan_reconfigure(k, discover(k), TO_RAM))
    assert out.exit_code == ExitCode.ROLLED_BACK, (out.message, [(r.status.value, r.error) for r in out.results])
    assert machine_state(k) == before


def test_an_exception_during_the_undo_is_rollback_incomplete(make_machine, monkeypatch):
    k = make_machine("qemu-nvdimm", stage="devdax")
    before = machine_state(k)
    ex = executor(k, before_step=at_step(12, StepFailed("injected")))
    def failing_rollback(done, results, _real=ex._rollback):
        def boom(action):
            raise ValueError("undo exploded")
        monkeypatch.setattr(ex, "run_action", boom)
        return _real(done, results)

    monkeypatch.setattr(ex, "_rollback", failing_rollback)
    out = ex.apply(plan_reconfigure(k, discover(k), TO_RAM))
    assert out.status == "rollback-incomplete" and out.exit_code == ExitCode.ROLLBACK_INCOMPLETE
    assert "undo exploded" in " ".join(r.error or "" for r in out.results)
    rec = Journal(k).load()
    assert rec is not None and rec.header["state"] == "rollback-incomplete"
    monkeypatch.undo()
    again = Executor(k, ApplyOptions(wait_timeout=2)).rollback_journal()
    assert again.status == "rolled-back", again.message
    assert machine_state(k) == before


# -- item 7: signals --------------------------------------------------------------


def send(sig):
    def hook(i, action):
        if i == 10:
            os.kill(os.getpid(), sig)
    return hook


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_during_a_change_leaves_a_journal_that_rollback_completes(make_machine, sig):
    k = make_machine("qemu-nvdimm", stage="devdax")
    before = machine_state(k)
    ex = executor(k, before_step=send(sig))
    with pytest.raises(Interrupted) as exc:
        ex.apply(plan_reconfigure(k, discover(k), TO_RAM))
    assert exc.value.exit_code == ExitCode.ROLLBACK_INCOMPLETE
    rec = Journal(k).load()
    assert rec is not None and rec.header["state"] == "interrupted"
    assert sum(1 for s in rec.statuses().values() if s == "done") >= 10  # the done batch was written
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN  # a late second signal cannot kill it now
    out = Executor(k, ApplyOptions(wait_timeout=2)).rollback_journal()
    assert out.status == "rolled-back", out.message
    assert machine_state(k) == before


def test_a_second_signal_while_the_first_is_handled_does_not_abandon_it(make_machine, monkeypatch):
    k = make_machine("qemu-nvdimm", stage="devdax")
    ex = executor(k, before_step=send(signal.SIGINT))
    real_set_state = ex.journal.set_state

    def set_state(state, **extra):
        os.kill(os.getpid(), signal.SIGTERM)  # a second signal in the middle of the handling
        return real_set_state(state, **extra)

    monkeypatch.setattr(ex.journal, "set_state", set_state)
    with pytest.raises(Interrupted):
        ex.apply(plan_reconfigure(k, discover(k), TO_RAM))
    rec = Journal(k).load()
    assert rec is not None and rec.header["state"] == "interrupted"


def test_a_signal_during_the_automatic_undo_does_not_abandon_it(make_machine, monkeypatch):
    k = make_machine("qemu-nvdimm", stage="devdax")
    before = machine_state(k)
    ex = executor(k, before_step=at_step(12, StepFailed("injected")))
    real_rollback = ex._rollback

    def rollback(done, results):
        real_run = ex.run_action
        sent = []

        def run_action(action):
            if not sent:
                sent.append(1)
                os.kill(os.getpid(), signal.SIGINT)
                os.kill(os.getpid(), signal.SIGINT)
            return real_run(action)

        monkeypatch.setattr(ex, "run_action", run_action)
        return real_rollback(done, results)

    monkeypatch.setattr(ex, "_rollback", rollback)
    out = ex.apply(plan_reconfigure(k, discover(k), TO_RAM))
    assert out.status == "rolled-back" and out.exit_code == ExitCode.ROLLED_BACK, out.message
    assert machine_state(k) == before


def test_a_signal_between_steps_is_an_interruption_not_a_bare_ctrl_c(make_machine):
    k = make_machine("qemu-nvdimm", stage="devdax")

    def progress(done, total, label):
        if done == 15:
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(Interrupted):
        executor(k, progress=progress).apply(plan_reconfigure(k, discover(k), TO_RAM))
    assert Journal(k).load().header["state"] == "interrupted"


def test_a_signal_during_pmemctl_rollback_does_not_abandon_it(make_machine, monkeypatch):
    k = make_machine("qemu-nvdimm", stage="devdax")
    before = machine_state(k)
    with pytest.raises(Interrupted):
        executor(k, before_step=at_step(20, KeyboardInterrupt())).apply(plan_reconfigure(k, discover(k), TO_RAM))
    ex = Executor(k, ApplyOptions(wait_timeout=2))
    real_run = ex.run_action
    sent = []

    def run_action(action):
        if not sent:
            sent.append(1)
            os.kill(os.getpid(), signal.SIGINT)
        return real_run(action)

    monkeypatch.setattr(ex, "run_action", run_action)
    out = ex.rollback_journal()
    assert out.status == "rolled-back", out.message
    assert machine_state(k) == before


# -- item 11: a damaged journal is a typed error ------------------------------------


def plant(k, header=None, log=None, *, header_bytes=None):
    d = os.path.join(k.root, "var/lib/pmemctl")
    os.makedirs(d, exist_ok=True)
    if header_bytes is not None:
        with open(os.path.join(d, "journal.json"), "wb") as fh:
            fh.write(header_bytes)
    elif header is not None:
        with open(os.path.join(d, "journal.json"), "w") as fh:
            json.dump(header, fh)
    if log is not None:
        with open(os.path.join(d, "journal.log"), "wb") as fh:
            fh.write(log)
    return d


def valid_header(k):
    plan = plan_reconfigure(k, discover(k), TO_RAM)
    return {"version": 1, "command": "reconfigure", "plan": plan.to_dict(), "state": "interrupted",
            "units": [[plan.title, 0, len(plan.actions)]], "pid": 1, "started": "x"}


DAMAGE = {
    "garbage": dict(header_bytes=b"\x00garbage{{{"),
    "truncated": dict(header_bytes=b'{"plan": {"title": "t", "act'),
    "empty": dict(header_bytes=b""),
    "non-utf8": dict(header_bytes=b'{"plan": "\xff\xfe"}'),
    "list": dict(header_bytes=b"[]"),
    "no-plan": dict(header_bytes=b'{"state": "applying"}'),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_journal_header_is_a_typed_error_naming_the_file(make_machine, damage):
    k = make_machine("qemu-nvdimm", stage="devdax")
    plant(k, **DAMAGE[damage])
    for call in (lambda: services.status(k), lambda: Executor(k).rollback_journal(),
                 lambda: Executor(k).resume_journal(),
                 lambda: executor(k).apply(plan_reconfigure(k, discover(k), TO_RAM))):
        with pytest.raises(DamagedJournal) as exc:
            call()
        assert exc.value.exit_code == ExitCode.LOCKED
        assert "journal.json" in exc.value.sentence()


def test_a_damaged_journal_names_the_way_out_with_the_sysroot(make_machine):
    k = make_machine("qemu-nvdimm", stage="devdax")
    header = valid_header(k)
    header["plan"]["actions"][0]["kind"] = "format-the-disk"
    plant(k, header, b"")
    for call in (lambda: services.status(k), Executor(k).rollback_journal):
        try:
            plant(k, header_bytes=b"{garbage")
            call()
        except DamagedJournal as exc:
            hint = exc.hint or ""
        else:
            pytest.fail("a damaged journal was read")
        assert f"'pmemctl --sysroot {k.root} journal abandon'" in hint
        assert f"'pmemctl --sysroot {k.root} list'" in hint and f"'pmemctl --sysroot {k.root} blocks'" in hint
    with pytest.raises(DamagedJournal) as exc:  # a step this pmemctl does not know
        plant(k, header, b"")
        Executor(k).rollback_journal()
    assert f"'pmemctl --sysroot {k.root} journal abandon'" in (exc.value.hint or "")


def test_a_journal_that_is_a_directory_is_a_typed_error(make_machine):
    k = make_machine("qemu-nvdimm", stage="devdax")
    d = plant(k)
    os.mkdir(os.path.join(d, "journal.json"))
    with pytest.raises(DamagedJournal) as exc:
        services.status(k)
    assert "directory" in exc.value.sentence()


@pytest.mark.parametrize("line", [b'{"e":"done","i":"x"}', b"[]", b'{"i":3}', b"\xff\xfe"])
def test_a_bad_line_inside_the_log_is_a_typed_error(make_machine, line):
    k = make_machine("qemu-nvdimm", stage="devdax")
    plant(k, valid_header(k), b'{"e":"start","i":0,"to":64}\n' + line + b'\n{"e":"done","i":0}\n')
    with pytest.raises(DamagedJournal) as exc:
        Executor(k).rollback_journal()
    assert "journal.log" in exc.value.sentence() and "line 2" in exc.value.sentence()


def test_an_unknown_action_kind_is_a_typed_error(make_machine):
    k = make_machine("qemu-nvdimm", stage="devdax")
    header = valid_header(k)
    header["plan"]["actions"][0]["kind"] = "format-the-disk"
    plant(k, header, b"")
    for call in (Executor(k).rollback_journal, Executor(k).resume_journal):
        with pytest.raises(DamagedJournal) as exc:
            call()
        assert "journal.json" in exc.value.sentence()


def test_a_damaged_last_run_summary_blocks_nothing(make_machine):
    k = make_machine("qemu-nvdimm", stage="devdax")
    d = plant(k)
    os.mkdir(os.path.join(d, "last-run.json"))
    assert services.status(k).last_run is None
    out = executor(k).apply(plan_reconfigure(k, discover(k), TO_RAM))
    assert out.status == "changed"


def test_a_journal_written_by_the_previous_format_still_rolls_back(make_machine):
    k = make_machine("qemu-nvdimm", stage="devdax")
    before = machine_state(k)
    with pytest.raises(Interrupted):
        executor(k, before_step=at_step(15, KeyboardInterrupt())).apply(plan_reconfigure(k, discover(k), TO_RAM))
    assert Executor(k, ApplyOptions(wait_timeout=2)).rollback_journal().status == "rolled-back"
    assert machine_state(k) == before


# -- item 7 end to end: a real process, real signals ------------------------------


@pytest.mark.parametrize("signals", [(signal.SIGTERM,), (signal.SIGHUP,), (signal.SIGINT, signal.SIGTERM)],
                         ids=["SIGTERM", "SIGHUP", "SIGINT+SIGTERM"])
def test_signals_to_a_running_pmemctl_exit_7_and_rollback_restores(make_machine, signals):
    import subprocess
    import sys
    import time
    from pathlib import Path

    from pmemctl.sim.kernel import faults

    k = make_machine("qemu-nvdimm", stage="system-ram")
    root = Path(k.root)
    before = machine_state(k)
    faults.inject(root, "offline-hang", blocks=[57], seconds=60)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]), NO_COLOR="1")
    env.pop("PMEMCTL_SYSROOT", None)
    cmd = [sys.executable, "-m", "pmemctl", "--sysroot", str(root), "offline", "dax0.0", "--count", "8",
           "--timeout", "60", "--yes"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    journal = root / "var/lib/pmemctl/journal.json"
    deadline = time.monotonic() + 30
    while not journal.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # let it reach the hanging block
    for sig in signals:
        proc.send_signal(sig)
        time.sleep(0.01)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.ROLLBACK_INCOMPLETE, (out, err)
    assert "Traceback" not in err
    faults.clear(root)
    rb = subprocess.run([sys.executable, "-m", "pmemctl", "--sysroot", str(root), "rollback"],
                        capture_output=True, text=True, env=env)
    assert rb.returncode in (0, 3), rb.stdout + rb.stderr
    assert machine_state(k) == before


# -- the kmem unbind's own re-check reads the block size as discovery does -----------


@pytest.mark.parametrize("content", ["7000000", "abc", "1"])
def test_the_kmem_unbind_precheck_refuses_a_block_size_no_kernel_could_hold(make_machine, content):
    """The precheck re-reads the machine right before the unbind; with a
    block size it guessed (7000000 read as hex) it found no online block and
    let kmem go under online memory."""
    from pmemctl.errors import BadAttribute
    from pmemctl.ops.actions.dax import UnbindDevice

    k = make_machine("qemu-nvdimm", stage="system-ram")
    path = os.path.join(k.root, "sys/devices/system/memory/block_size_bytes")
    os.chmod(path, 0o644)
    with open(path, "w") as fh:
        fh.write(content + "\n")
    with pytest.raises(BadAttribute) as exc:
        UnbindDevice("dax0.0", "kmem").precheck(k)
    assert "block_size_bytes" in exc.value.sentence()
