"""The Action contract: one step of a plan, as data that knows how it is done.

Every action declares, as class attributes, how the executor treats it, so
the executor never names a concrete action (blivet's ``DeviceAction`` is the
model):

* ``journal``     — how its intent is journalled (:class:`JournalPolicy`);
* ``bounded``     — each write gets the offline timeout (the kernel retries
                    offlining until a signal is pending);
* ``settles``     — its end state comes asynchronously: ``verify`` is polled
                    until the wait timeout (``uevents``: wake on memory uevents);
* ``skippable``   — False for waits, whose end state is this run's doing;
* ``write_detects_done`` — a refused write may mean "already there"
                    (EINVAL from ``memoryN/state``): the read-back decides.

and, as methods:

* ``describe()``  — one sentence for people;
* ``writes()``    — the exact writes, rendered as ``echo VALUE > PATH``;
* ``apply(door, write)`` — carry it out (default: perform ``pending_writes``
                    through the executor's ``write``); it returns the action
                    actually carried out when that differs (a spare block
                    offlined instead of a busy one), which the journal records
                    and rollback undoes, else None;
* ``precheck(door)`` — a :class:`Problem` that forbids starting, or None
                    (read from the machine, never from earlier reads);
* ``after_failure(door)`` — clean up the half of a failed step;
* ``satisfied(door)`` / ``verify(door)`` — end state there? / why not
                    (``read_back``: verify after its own write, and the
                    block states it read);
* ``inverse()``   — the action that undoes it (rollback);
* ``touches()``   — the devices and blocks whose state to report afterwards;
* ``state_lines(door)`` — sentences about objects only it knows (namespaces).

Actions name kernel objects by kernel name (``dax0.0``, block 42), never by
snapshot records, so a plan can be serialised into the journal and replayed
by ``pmemctl resume`` / ``pmemctl rollback`` in another process.
"""

from __future__ import annotations

import enum
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Optional

from pmemctl.sysfs.door import SysfsRoot


@dataclass(frozen=True)
class Write:
    """One sysfs write.  ``ignore_errnos``: errnos that are expected and harmless
    (the verify read decides), e.g. EBUSY from ``bind`` after ``new_id`` already
    bound the device (kernel-abi.md §4.3)."""

    path: str
    value: str
    ignore_errnos: tuple[int, ...] = ()
    #: what carries it out: "sysfs" (an attribute write), "wipe" (zeroing a
    #: device's info block) or "ndctl" (one ndctl command line)
    kind: ClassVar[str] = "sysfs"

    def shell(self) -> str:
        return f"echo {_shell_word(self.value)} > {_shell_word(self.path)}"  # pasting it is safe


def _shell_word(text: str) -> str:
    """``text`` quoted for a shell only when it needs it (ordinary values stay as they are)."""
    return shlex.quote(text) if text else text


#: how the executor performs one write: bounded, typed errors (see Executor)
WriteFn = Callable[[Write], None]


class ProblemKind(enum.Enum):
    """Why an action's end state is not there."""

    NOT_DONE = "not-done"  # the kernel has not (yet) done it
    GONE = "gone"  # the object disappeared
    CONFLICT = "conflict"  # someone else put it in another state (e.g. the wrong zone)
    UNSAFE = "unsafe"  # starting it would do harm (precheck)


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    message: str

    def __str__(self) -> str:
        return self.message


def not_done(message: str) -> Problem:
    return Problem(ProblemKind.NOT_DONE, message)


class JournalPolicy(enum.Enum):
    """How a step's intent reaches the journal (see executor._BatchedJournal)."""

    BATCH = "batch"  # block steps: one intent event per batch, runs of "done"
    EACH = "each"  # its own start/done events
    SYNC = "sync"  # its own start/done events, fsync'ed (driver binds: a crash between matters)


@dataclass(frozen=True)
class Touches:
    """Kernel objects whose state the outcome reports after a run."""

    devices: tuple[str, ...] = ()
    blocks: tuple[int, ...] = ()


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


@dataclass(frozen=True)
class Action:
    kind: ClassVar[str] = "action"
    #: does undoing it need consent / can it lose data
    destructive: ClassVar[bool] = False
    #: how many memory blocks the action walks (for progress)
    blocks: ClassVar[int] = 0
    #: False for waits: their end state is a consequence of an earlier step of
    #: this run, so they always count as done (and are undone on rollback)
    skippable: ClassVar[bool] = True
    #: True when the write itself tells "already there" (EINVAL from memoryN/state
    #: for a block already in that state), so no read is needed before it
    write_detects_done: ClassVar[bool] = False
    journal: ClassVar[JournalPolicy] = JournalPolicy.EACH
    #: each write is bounded by the offline timeout
    bounded: ClassVar[bool] = False
    #: verify is polled until the wait timeout; uevents: wake on memory uevents
    settles: ClassVar[bool] = False
    uevents: ClassVar[bool] = False
    #: one memory block's state (its ``index``): exactly the write
    #: :meth:`state_write`, no precheck, no other block taken instead, read
    #: back by :meth:`state_problem` of that same file, touching that block
    #: only.  The executor and the outcome take a walk of them on a short
    #: path (every write still read back, journalled and undone)
    block_step: ClassVar[bool] = False

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def writes(self) -> list[Write]:  # pragma: no cover - abstract
        raise NotImplementedError

    def pending_writes(self, door: SysfsRoot) -> list[Write]:
        """The writes still needed now (default: all of them)."""
        return self.writes()

    def apply(self, door: SysfsRoot, write: WriteFn) -> Optional[Action]:
        """Carry the step out; ``write`` performs one write for the executor.
        Returns the action actually carried out when it is not this one
        (ops/actions/offline_any.py), else None."""
        for w in self.pending_writes(door):
            write(w)
        return None

    def precheck(self, door: SysfsRoot) -> Optional[Problem]:
        """A reason not to start this step now (read from the machine), or None."""
        return None

    def after_failure(self, door: SysfsRoot) -> None:
        """Best-effort clean-up of what a failed attempt may have left half done."""

    def satisfied(self, door: SysfsRoot) -> bool:
        """The end state is there already (then the step is skipped)."""
        return self.verify(door) is None

    def verify(self, door: SysfsRoot) -> Optional[Problem]:  # pragma: no cover - abstract
        raise NotImplementedError

    def read_back(self, door: SysfsRoot) -> tuple[Optional[Problem], Mapping[int, Optional[str]]]:
        """:meth:`verify` right after this run's own write went through, and
        the memory block states that read found (index -> state, None:
        absent), which the executor reuses instead of reading them again."""
        return self.verify(door), {}

    def state_write(self) -> Write:
        """A :attr:`block_step`'s one write (its ``path`` is also what is read back)."""
        raise NotImplementedError(f"{self.kind} is not a block step")

    def state_problem(self, state: Optional[str]) -> Optional[Problem]:
        """A :attr:`block_step`'s read-back: why ``state`` (None: the block is
        gone) is not its end state after its own write went through, or None."""
        raise NotImplementedError(f"{self.kind} is not a block step")

    def inverse(self) -> Optional[Action]:
        return None

    def touches(self) -> Touches:
        return Touches()

    def state_lines(self, door: SysfsRoot) -> list[str]:
        """Sentences on where the objects only this step knows are now."""
        return []

    @classmethod
    def group_state_lines(cls, door: SysfsRoot, actions: Sequence[Action]) -> list[str]:
        """:meth:`state_lines` of several actions of this kind (a kind may
        fold them: one line for 49,152 blocks, not one each)."""
        return [line for a in actions for line in a.state_lines(door)]

    def to_dict(self) -> dict[str, Any]:
        # not dataclasses.asdict (it deep-copies): plans hold one action per block
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = _FIELD_NAMES[type(self)] = tuple(f.name for f in fields(self))
        return {"kind": self.kind, **{n: getattr(self, n) for n in names}}


class TextEnum(str, enum.Enum):
    """An enumeration whose members are their own (documented) text values."""

    def __str__(self) -> str:
        return str(self.value)


class StepStatus(TextEnum):
    """What happened to one action during apply or rollback."""

    DONE = "done"
    SKIPPED = "skipped"  # already satisfied
    FAILED = "failed"
    UNDONE = "undone"
    UNDO_FAILED = "undo-failed"
    NOT_RUN = "not-run"


@dataclass(slots=True)
class ActionResult:
    """What happened to one action during apply or rollback."""

    action: Action
    status: StepStatus
    error: Optional[str] = None
    errno: Optional[int] = None
