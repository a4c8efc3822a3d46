"""Bounded writes: SIGALRM's handler is installed once per run, not once per
block, and the one that was there before comes back after the run (issue 14)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from pmemctl.model.discover import discover
from pmemctl.ops.executor import ApplyOptions, Executor
from pmemctl.ops.plan.blocks import plan_offline
from pmemctl.ops.requests import BlockRequest
from pmemctl.ops.services import OFFLINE_FIELDS
from pmemctl.sim.build import materialise
from pmemctl.sim.kernel import SimulatedKernel
from pmemctl.sim.scenario import load_scenario


def test_offline_installs_the_alarm_once_and_restores_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = materialise(load_scenario("qemu-nvdimm", {"stage": "system-ram"}), tmp_path / "t")
    k = SimulatedKernel(root)
    topo = discover(k, block_fields=OFFLINE_FIELDS)
    dev = next(d.name for d in topo.dax_devices if d.driver == "kmem")
    plan = plan_offline(k, topo, BlockRequest(device=dev))
    steps = sum(1 for a in plan.actions if a.bounded)
    assert steps >= 2

    def previous(signum: int, frame: object) -> None:  # pragma: no cover - never fires
        raise AssertionError("the handler of before the run fired")

    old = signal.signal(signal.SIGALRM, previous)
    installs: list[object] = []
    real = signal.signal

    def counting(signum: int, handler: object) -> object:
        if signum == signal.SIGALRM:
            installs.append(handler)
        return real(signum, handler)  # type: ignore[arg-type]

    monkeypatch.setattr(signal, "signal", counting)
    try:
        out = Executor(k, ApplyOptions()).apply(plan)
        assert out.status.value == "changed", out.message
        # one install at the first bounded write, one restore at the end
        assert len(installs) == 2 and installs[-1] is previous
        assert signal.getsignal(signal.SIGALRM) is previous
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    finally:
        real(signal.SIGALRM, old)
