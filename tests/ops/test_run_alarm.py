"""RunAlarm (ops/signals.py): each bounded write gets its whole budget from
its own start; the timer left armed between writes ends no other work; the
end of the run disarms it and puts the old handler back."""

from __future__ import annotations

import signal
import time

import pytest

from pmemctl.ops.signals import RunAlarm


def _busy(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_a_write_longer_than_its_budget_is_interrupted_and_the_run_disarms() -> None:
    before = signal.getsignal(signal.SIGALRM)
    alarm = RunAlarm()
    try:
        with pytest.raises(TimeoutError):
            alarm.write(0.05, lambda _p, _v: _busy(1.0), "p", "v")
    finally:
        alarm.restore()
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is before


def test_each_write_gets_its_whole_budget_and_an_alarm_between_writes_is_ignored() -> None:
    alarm = RunAlarm()
    try:
        for _ in range(4):  # 4 x 0.06 s of writes: more than one budget in all, less than one each
            alarm.write(0.1, lambda _p, _v: _busy(0.06), "p", "v")
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 0  # left armed after the last write
        _busy(0.2)  # the alarm fires here, between writes: nothing is raised
        alarm.write(0.1, lambda _p, _v: None, "p", "v")
    finally:
        alarm.restore()
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
