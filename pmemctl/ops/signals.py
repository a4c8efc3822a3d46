"""Signals during a change: bounded writes (SIGALRM) and the shield that
turns SIGINT, SIGTERM and SIGHUP into one orderly interruption."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from signal import ITIMER_REAL, setitimer
from types import FrameType
from typing import Any, Optional

# --------------------------------------------------------------------------
# bounded writes


@contextmanager
def deadline(seconds: Optional[float]) -> Iterator[None]:
    """Interrupt a blocking sysfs write after ``seconds`` (main thread only).

    The kernel retries an offline until a signal is pending, then fails it with
    EINTR (mm/memory_hotplug.c offline_pages); SIGALRM is that signal.  The
    handler raises, so Python does not transparently retry the write (PEP 475).
    """
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise TimeoutError

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class RunAlarm:
    """SIGALRM bounds a write that may block: the kernel retries an offline
    until a signal is pending, then fails it with EINTR (mm/memory_hotplug.c
    offline_pages).  The handler is installed at a run's first bounded write
    and restored at the end of the run (installing it per block cost about
    6 us a block).  Each write arms the timer (setitimer resets it: every
    write gets the whole budget from its own start) and leaves it armed: the
    next write re-arms it, :meth:`restore` disarms it at the end of the run,
    and an alarm between writes is ignored (issue 14: one system call a
    block, not two)."""

    def __init__(self) -> None:
        self._old: object = None
        self._installed = False
        self._writing = False  # a bounded write is in progress: an alarm now ends it

    def _on_alarm(self, signum: int, frame: Optional[FrameType]) -> None:
        if self._writing:
            raise TimeoutError  # raised, so Python does not retry the interrupted write (PEP 475)

    def write(self, seconds: float, write: Callable[[str, str], None], path: str, value: str) -> None:
        """``write(path, value)``, interrupted by TimeoutError after ``seconds``."""
        if not self._installed:
            if threading.current_thread() is not threading.main_thread():  # signals: main thread only
                write(path, value)
                return
            self._old = signal.signal(signal.SIGALRM, self._on_alarm)
            self._installed = True
        self._writing = True
        setitimer(ITIMER_REAL, seconds)
        try:
            write(path, value)
        finally:
            self._writing = False

    def restore(self) -> None:
        if self._installed:
            setitimer(ITIMER_REAL, 0)
            old = self._old if self._old is not None else signal.SIG_DFL
            signal.signal(signal.SIGALRM, old)  # type: ignore[arg-type]
            self._installed = False


class SignalShield:
    """SIGINT, SIGTERM and SIGHUP while a change runs (a context manager that
    installs the handlers, in the main thread only).

    The first signal raises KeyboardInterrupt once, and from then on the
    shield is up: the code that handles it (journalling the interruption)
    cannot be cut short by a second one.  While :meth:`shield` is held (the
    automatic undo, the end of a run) a signal is only recorded in
    ``pending``; the executor stops at the next step instead.  Once a signal
    came, the three stay ignored after the change (the caller is about to
    report the interruption and exit 7).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.shielded = False
        self.pending: Optional[int] = None
        self._old: dict[int, Any] = {}
        self._depth = 0

    def __enter__(self) -> "SignalShield":
        self._depth += 1
        if self._depth == 1 and threading.current_thread() is threading.main_thread():
            self.shielded, self.pending = False, None
            for sig in self.SIGNALS:
                self._old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            for sig, old in self._old.items():
                # after a signal the process is ending with exit 7: a late
                # second signal must not turn that into death by signal
                signal.signal(sig, old if self.pending is None else signal.SIG_IGN)
            self._old.clear()

    def _handler(self, signum: int, frame: Optional[FrameType]) -> None:
        if self.pending is None:
            self.pending = signum
        if self.shielded:
            return
        self.shielded = True
        raise KeyboardInterrupt

    @contextmanager
    def shield(self) -> Iterator[None]:
        before = self.shielded
        self.shielded = True
        try:
            yield
        finally:
            self.shielded = before
