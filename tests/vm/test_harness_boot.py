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
