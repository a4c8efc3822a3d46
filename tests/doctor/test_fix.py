"""--fix: only runtime-safe fixes, through the plan/executor (dry run, consent, verify, rollback)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from cli_support import tree_digest
from doctor_support import Build, ids

AUTO = "/sys/devices/system/memory/auto_online_blocks"
DEMOTION = "/sys/kernel/mm/numa/demotion_enabled"


def _tree(build: Build) -> Path:
    return build("qemu-nvdimm", {"stage": "system-ram"}, "auto-online=online", "udev-rule", "demotion=false")


def test_dry_run_shows_the_write_and_changes_nothing(build: Build, invoke: Callable[..., Any]) -> None:
    tree = _tree(build)
    before = tree_digest(tree, "sys")
    result = invoke("--sysroot", tree, "doctor", "--fix", "--dry-run")
    assert result.exit_code == 12
    assert f"echo offline > {AUTO}" in result.stdout
    assert DEMOTION not in result.stdout.split("dry run")[0].split("apply the runtime-safe")[-1]  # info: not fixed
    assert "dry run: nothing was written" in result.stdout
    assert tree_digest(tree, "sys") == before


def test_fix_applies_and_verifies(build: Build, invoke: Callable[..., Any]) -> None:
    tree = _tree(build)
    result = invoke("--sysroot", tree, "doctor", "--fix", "--yes", "--json")
    doc = json.loads(result.stdout)
    assert (tree / AUTO.lstrip("/")).read_text().strip() == "offline"
    assert (tree / DEMOTION.lstrip("/")).read_text().strip() == "false"  # info findings are advice only
    assert doc["fix"]["outcome"]["status"] == "changed"
    assert [s["kind"] for s in doc["fix"]["plan"]["steps"]] == ["set-policy"]
    # the findings are those before the fix; the udev rule needs a person and stays a warning
    assert result.exit_code == 12
    again = json.loads(invoke("--sysroot", tree, "doctor", "--json").stdout)
    assert "policy-auto-online-normal" not in ids(again)
    assert "agent-udev-onlines-memory" in ids(again, "warning")


def test_fix_with_nothing_to_fix(build: Build, invoke: Callable[..., Any]) -> None:
    tree = build("qemu-nvdimm", {"stage": "system-ram"}, "udev-rule")
    result = invoke("--sysroot", tree, "doctor", "--fix", "--yes", "--json")
    doc = json.loads(result.stdout)
    assert doc["fix"]["plan"]["steps"] == [] and doc["fix"]["outcome"]["status"] == "no-change"
    assert result.exit_code == 12


def test_fix_is_rolled_back_when_the_write_does_not_stick(build: Build, invoke: Callable[..., Any]) -> None:
    """A value the kernel refuses is an error with nothing left changed (the executor's rollback)."""
    from pmemctl.ops.actions.policy import SetPolicy
    from pmemctl.ops.executor import Executor
    from pmemctl.ops.outcome import OutcomeStatus
    from pmemctl.ops.plan import Plan
    from pmemctl.sim.kernel import SimulatedKernel

    tree = _tree(build)
    door = SimulatedKernel(tree)
    plan = Plan("fix", (SetPolicy(AUTO, "offline", "offline", "online", "online"),
                        SetPolicy(DEMOTION, "maybe", "maybe", "false", "false")))
    outcome = Executor(door).apply(plan)
    assert outcome.status in (OutcomeStatus.ROLLED_BACK, OutcomeStatus.FAILED)
    assert (tree / AUTO.lstrip("/")).read_text().strip() == "online"


def test_fix_on_a_recording_is_refused(build: Build, invoke: Callable[..., Any], tmp_path: Path) -> None:
    from pmemctl.sim.record import record

    rec = tmp_path / "rec"
    tree = _tree(build)
    record(rec, tree)
    import shutil

    shutil.rmtree(rec / ".pmemctl-sim")  # a recording of a real machine: no kernel behind it
    result = invoke("--sysroot", rec, "doctor", "--fix", "--yes")
    assert result.exit_code == 5 and "read-only recording" in result.stderr
    assert invoke("--sysroot", rec, "doctor", "--fix", "--dry-run").exit_code == 12
