"""The harness's boot watchdog, without QEMU: a stand-in command plays the
guest, writing (or not) init's first console line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from . import harness


def test_a_guest_that_never_reaches_init_is_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "BOOT_DEADLINE", 1)
    t0 = time.monotonic()
    rc, _, _ = harness._boot(["sh", "-c", "sleep 60"], tmp_path / "console.log")
    assert rc == harness.BOOT_HUNG and time.monotonic() - t0 < 10


def test_a_guest_that_reaches_init_runs_to_its_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "BOOT_DEADLINE", 1)
    console = tmp_path / "console.log"
    script = f"echo 'pmemctl-vm: init start uptime=2.0' > {console}; sleep 2; echo done >> {console}; exit 3"
    rc, _, text = harness._boot(["sh", "-c", script], console)
    assert rc == 3 and text.endswith("done\n")


def test_a_guest_that_dies_before_init_is_booted_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An early kernel crash (6.12's 'Oops: int3' under TCG) ran no project
    code: run_guest boots once more and keeps the first console."""
    calls: list[int] = []

    def fake_boot(argv: list[str], console: Path) -> tuple[int, str, str]:
        calls.append(1)
        if len(calls) == 1:
            return 0, "", "Oops: int3: 0000 [#1] PREEMPT SMP NOPTI\nKernel panic"
        io = Path(argv[argv.index("-virtfs") + 3].split("path=")[1].split(",")[0])
        (io / "exit_code").write_text("0\n")
        return 0, "", "pmemctl-vm: init start uptime=2.0\npmemctl-vm: scenario done rc=0"

    monkeypatch.setattr(harness, "_boot", fake_boot)
    monkeypatch.setattr(harness, "prepare", lambda **kw: harness.Prepared(
        "6.12.0-0-amd64", "p", "v", tmp_path / "k", tmp_path / "i", (), kernel="6.12"))
    r = harness.run_guest("true", results_dir=tmp_path / "io", timeout=30)
    assert len(calls) == 2 and r.exit_code == 0
    assert "[attempt 1 ended before init" in r.console_log and "Oops: int3" in r.console_log
