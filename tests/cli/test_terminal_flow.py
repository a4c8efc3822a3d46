"""Issue 15, items 10 and 13: an overridden check reads OVERRIDDEN (not
REFUSED next to "result: done"); the plan is printed before the first
write, once (not again after the "y"); the consent text once; the question
on stderr (not in a log stdout is piped to); the progress bar is stopped
however the run ends."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import click
import pytest
from cli_support import Invoke, check_schema

from pmemctl.errors import ExitCode


@pytest.fixture
def optane(fresh_tree: Any) -> Path:
    return fresh_tree("optane-2s")


@pytest.fixture
def sysram(fresh_tree: Any) -> Path:
    return fresh_tree("qemu-nvdimm", stage="system-ram")


def test_forced_check_reads_overridden(invoke: Invoke, optane: Path) -> None:
    refused = invoke("--sysroot", optane, "offline", "--blocks", "5", "--dry-run")
    assert refused.exit_code == ExitCode.REFUSED and "REFUSED    zone-normal" in refused.stdout
    forced = invoke("--sysroot", optane, "offline", "--blocks", "5", "--force", "--yes")
    assert forced.exit_code == 0, forced.stderr
    assert "REFUSED" not in forced.stdout
    assert "OVERRIDDEN zone-normal" in forced.stdout and "(by --force)" in forced.stdout
    assert "result:      done" in forced.stdout


def test_forced_check_json_says_overridden(invoke: Invoke, optane: Path) -> None:
    doc = json.loads(invoke("--sysroot", optane, "offline", "--blocks", "5", "--force", "--dry-run", "--json").stdout)
    check_schema(doc)
    check = next(c for c in doc["plan"]["checks"] if c["name"] == "zone-normal")
    assert check["status"] == "overridden" and check["override"] == "--force"
    doc = json.loads(invoke("--sysroot", optane, "offline", "--blocks", "5", "--dry-run", "--json").stdout)
    assert next(c for c in doc["plan"]["checks"] if c["name"] == "zone-normal")["status"] == "refused"


def test_plan_is_printed_before_the_first_write(invoke: Invoke, sysram: Path, monkeypatch: Any) -> None:
    from pmemctl.ops import services

    seen: list[str] = []
    real = services.Executor

    class Watching(real):  # type: ignore[misc, valid-type]
        def apply(self, plan: Any, **kwargs: Any) -> Any:
            seen.append(sys.stdout.buffer.getvalue().decode())  # what the user has seen by now
            return super().apply(plan, **kwargs)

    monkeypatch.setattr(services, "Executor", Watching)
    res = invoke("--sysroot", sysram, "offline", "dax0.0", "--count", "2")
    assert res.exit_code == 0, res.stderr
    assert seen and "Plan:" in seen[0] and "offline memory block" in seen[0]
    assert res.stdout.count("Plan:") == 1 and "result:      done" in res.stdout
    assert res.stdout.index("Plan:") < res.stdout.index("Outcome:")


def test_consent_on_a_terminal_shows_the_plan_once_and_asks_on_stderr(
        invoke: Invoke, sysram: Path, monkeypatch: Any) -> None:
    from pmemctl.cli.commands import change

    tty = types.SimpleNamespace(isatty=lambda: True)
    monkeypatch.setattr(change, "sys", types.SimpleNamespace(argv=sys.argv, stdin=tty))
    res = invoke("--sysroot", sysram, "reconfigure", "dax0.0", "-m", "devdax", input="y\n")
    assert res.exit_code == 0, res.stderr
    consent = "will be taken away from running programs"
    assert "Go ahead?" in res.stderr and "Go ahead?" not in res.stdout
    assert res.stdout.count("Plan:") == 1
    assert (res.stdout + res.stderr).count(consent) == 1
    assert "result:      done" in res.stdout


def test_answering_no_changes_nothing(invoke: Invoke, sysram: Path, monkeypatch: Any) -> None:
    from pmemctl.cli.commands import change

    tty = types.SimpleNamespace(isatty=lambda: True)
    monkeypatch.setattr(change, "sys", types.SimpleNamespace(argv=sys.argv, stdin=tty))
    res = invoke("--sysroot", sysram, "reconfigure", "dax0.0", "-m", "devdax", input="n\n")
    assert res.exit_code == ExitCode.REFUSED
    assert "Go ahead?" in res.stderr and res.stdout.count("Plan:") == 1


def test_progress_bar_is_stopped_when_the_run_ends_early(monkeypatch: Any) -> None:
    """A run that fails half-way never reaches the bar's total: the bar is
    stopped when the command ends anyway, so no text sticks to its frame."""
    import rich.progress

    from pmemctl.cli.app import App
    from pmemctl.cli.commands.change import _progress

    events: list[str] = []

    class FakeProgress:
        def __init__(self, *a: Any, **k: Any) -> None:
            pass

        def start(self) -> None:
            events.append("start")

        def stop(self) -> None:
            events.append("stop")

        def add_task(self, *a: Any, **k: Any) -> int:
            return 0

        def update(self, *a: Any, **k: Any) -> None:
            events.append("update")

    monkeypatch.setattr(rich.progress, "Progress", FakeProgress)
    app = App()
    app.color = True  # a terminal
    with click.Context(click.Command("offline")):
        update = _progress(app)
        assert update is not None
        update(3, 20, "offline memory block 40")  # then the run fails: 20 is never reached
        assert events == ["start", "update"]
    assert events[-1] == "stop"


def test_resume_progress_starts_where_the_run_stopped(fresh_tree: Any) -> None:
    """resume's bar does not restart at 0: the blocks done before the
    interruption count, and the total is reached."""
    from pmemctl.errors import Interrupted
    from pmemctl.ops import services
    from pmemctl.ops.executor import ApplyOptions
    from pmemctl.ops.requests import BlockRequest
    from pmemctl.sim.kernel import SimulatedKernel

    tree = fresh_tree("qemu-nvdimm", stage="system-ram")
    door = SimulatedKernel(tree)
    services.offline(door, BlockRequest(device="dax0.0", count=20), services.RunOptions(yes=True))

    def stop_at_eleventh(i: int, action: Any) -> None:
        if i == 10:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        services.online(door, BlockRequest(device="dax0.0"),
                        services.RunOptions(yes=True, apply=ApplyOptions(before_step=stop_at_eleventh)))
    seen: list[tuple[int, int]] = []
    outcome = services.resume(door, services.RunOptions(
        yes=True, apply=ApplyOptions(progress=lambda done, total, label: seen.append((done, total)))))
    assert outcome.status == "changed"
    assert seen[0][0] > 10 and seen[-1][0] == seen[-1][1] == 20, seen


def test_journal_abandon_on_a_terminal_asks_on_stderr_and_says_the_state_once(
        invoke: Invoke, fresh_tree: Any, monkeypatch: Any) -> None:
    from pmemctl.cli.commands import journal
    from pmemctl.sim.kernel import faults

    tree = fresh_tree("qemu-nvdimm", stage="devdax")
    faults.inject(tree, "bind-fail", driver="kmem", device="dax0.0")
    faults.inject(tree, "bind-fail", driver="device_dax", device="dax0.0")
    assert invoke("--sysroot", tree, "reconfigure", "dax0.0", "-m", "system-ram", "--yes").exit_code == 7
    faults.clear(tree)
    tty = types.SimpleNamespace(isatty=lambda: True)
    monkeypatch.setattr(journal, "sys", types.SimpleNamespace(argv=sys.argv, stdin=tty))
    res = invoke("--sysroot", tree, "journal", "abandon", input="y\n")
    assert res.exit_code == 0, res.stderr
    assert "Give up rollback and resume" in res.stderr and "Give up" not in res.stdout
    assert res.stdout.count("NOT rolled back") == 1 and res.stdout.count("Unfinished change") == 1
    assert "abandoned" in res.stdout
