"""What is shown is what is done: a namespace step wipes only the device its plan showed."""

from __future__ import annotations

import pytest

from pmemctl.model.discover import discover
from pmemctl.model.records import NamespaceMode
from pmemctl.ops.actions import nd_writes
from pmemctl.ops.executor import ApplyOptions
from pmemctl.ops.plan.namespace import plan_destroy, plan_reconfigure_namespace
from pmemctl.ops.requests import DestroyRequest, NsReconfigureRequest
from pmemctl.ops.services import RunOptions, run_plan


def opts() -> RunOptions:
    return RunOptions(yes=True, apply=ApplyOptions(offline_timeout=2, wait_timeout=2))


@pytest.fixture
def renamed_disk(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The kernel names the raw disk otherwise than the plan predicted; wipes are recorded."""
    wiped: list[str] = []
    monkeypatch.setattr(nd_writes, "blockdev_now", lambda door, namespace: "pmem9")
    return wiped


def test_the_shown_wipe_is_the_predicted_raw_disk(make_machine) -> None:
    k = make_machine("optane-2s")
    plan = plan_destroy(k, discover(k), DestroyRequest("namespace0.2", backend="sysfs"))
    wipes = [w for w in plan.writes() if w.kind == "wipe"]
    assert [w.path for w in wipes] == ["/dev/pmem0.2"]


def test_destroy_stops_before_wiping_a_device_the_plan_did_not_show(make_machine, renamed_disk, monkeypatch) -> None:
    k = make_machine("optane-2s")
    wiped: list[str] = []
    monkeypatch.setattr(type(k), "wipe_info_block", lambda self, dev, n=8192: wiped.append(dev))
    plan = plan_destroy(k, discover(k), DestroyRequest("namespace0.2", backend="sysfs"))
    outcome = run_plan(k, plan, opts()).outcome
    assert outcome is not None and outcome.status != "changed"
    assert "not /dev/pmem0.2 as the plan showed" in outcome.message
    assert wiped == []
    ns = discover(k).namespace("namespace0.2")
    assert ns is not None and ns.size > 0  # not deleted


def test_reconfigure_stops_and_restores_before_wiping_another_device(make_machine, renamed_disk, monkeypatch) -> None:
    k = make_machine("optane-2s")
    before = discover(k).namespace("namespace0.2")
    assert before is not None
    wiped: list[str] = []
    monkeypatch.setattr(type(k), "wipe_info_block", lambda self, dev, n=8192: wiped.append(dev))
    plan = plan_reconfigure_namespace(k, discover(k), NsReconfigureRequest("namespace0.2", "devdax", backend="sysfs"))
    outcome = run_plan(k, plan, opts()).outcome
    assert outcome is not None and outcome.status != "changed"
    assert "as the plan showed" in outcome.message
    assert wiped == []
    after = discover(k).namespace("namespace0.2")
    assert after is not None and after.mode == before.mode != NamespaceMode.DEVDAX
