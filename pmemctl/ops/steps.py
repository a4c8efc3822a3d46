"""The vocabulary of one step of a run: its options, how it fails, and how a
step whose end state was already there is told apart (ops/executor.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

from pmemctl.errors import PmemctlError
from pmemctl.ops.actions.base import Action

Progress = Callable[[int, int, str], None]  # (done, total, label)


class StepFailed(Exception):
    def __init__(self, message: str, err: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        self.errno = err


class AlreadyDone(Exception):
    """The write was refused because the end state was already there."""


@dataclass
class ApplyOptions:
    offline_timeout: float = 30.0  # per block
    wait_timeout: float = 30.0  # blocks appearing / disappearing after bind/unbind
    poll_interval: float = 0.01
    progress: Optional[Progress] = None
    command: str = ""
    #: hook for tests: called before each action index (fault injection of Ctrl-C)
    before_step: Optional[Callable[[int, Action], None]] = None


def as_step_failed(action: Action, err: Exception) -> StepFailed:
    """Any exception inside a step, as the step's failure (named, with its errno)."""
    if isinstance(err, PmemctlError):
        text = err.sentence()
    else:
        text = f"unexpected {type(err).__name__}" + (f": {err}" if str(err) else "")
    return StepFailed(f"{action.describe()}: {text}", getattr(err, "errno", None))
