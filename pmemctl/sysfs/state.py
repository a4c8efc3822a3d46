"""pmemctl's own files under the sysroot: the run lock and the intent journal.

On a real system: ``/run/lock/pmemctl.lock`` and ``/var/lib/pmemctl/``;
under another sysroot the same paths below it, so rehearsals on a simulated
or captured tree never touch the host's lock or journal.

The journal is two files: ``journal.json`` (the plan, written atomically
before the first step) and ``journal.log`` (one JSON line appended per step
event).  Appending a line is cheap enough to do before every block of a
49,152-block walk; the header is fsync'ed, and so is the log before and after
every driver bind/unbind (the steps that matter after a crash).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from dataclasses import dataclass
from typing import Any, Optional

from pmemctl.errors import Locked
from pmemctl.sysfs.door import SysfsRoot

LOCK_PATH = "/run/lock/pmemctl.lock"
STATE_DIR = "/var/lib/pmemctl"
#: where the journal goes when /var/lib is read-only (an initramfs, a
#: read-only root): /run is a tmpfs on every systemd machine
FALLBACK_STATE_DIR = "/run/pmemctl"
JOURNAL = STATE_DIR + "/journal.json"
JOURNAL_LOG = STATE_DIR + "/journal.log"
LAST_RUN = STATE_DIR + "/last-run.json"


class RunLock:
    """An exclusive flock held for the whole apply (or rollback/resume)."""

    def __init__(self, door: SysfsRoot) -> None:
        self.path = door.host_path(LOCK_PATH)
        self._fd: Optional[int] = None

    def acquire(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            holder = ""
            try:
                holder = os.pread(fd, 64, 0).decode().strip()
            except OSError:
                pass
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise Locked(
                    f"another pmemctl run{f' (pid {holder})' if holder else ''} is changing this machine "
                    f"(lock {LOCK_PATH} is held)",
                    hint="wait for it to finish and run the command again",
                ) from err
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _writable_dir(path: str) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK)


def _atomic_write(path: str, data: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as fh:
        # compact, and dumps (C encoder) not dump (pure-Python streaming):
        # a plan for 49,152 blocks is one action per block
        fh.write(json.dumps(data, separators=(",", ":"), sort_keys=True))
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass
class JournalRecord:
    header: dict[str, Any]
    events: list[dict[str, Any]]

    def statuses(self) -> dict[int, str]:
        """Last event per action index."""
        out: dict[int, str] = {}
        for ev in self.events:
            if "i" not in ev:
                continue
            first = int(ev["i"])
            last = int(ev.get("to", first + 1))  # range events: [i, to)
            for k in range(first, last):
                out[k] = str(ev["e"])
        return out


class Journal:
    def __init__(self, door: SysfsRoot) -> None:
        self.door = door
        # An existing journal wins wherever it is; a new one goes to the
        # first directory that can be written.
        dirs = [door.host_path(STATE_DIR), door.host_path(FALLBACK_STATE_DIR)]
        chosen = next((d for d in dirs if os.path.exists(os.path.join(d, "journal.json"))), None)
        if chosen is None:
            chosen = next((d for d in dirs if _writable_dir(d)), dirs[0])
        self.state_dir = chosen
        self.header_path = os.path.join(chosen, "journal.json")
        self.log_path = os.path.join(chosen, "journal.log")
        self.last_path = os.path.join(chosen, "last-run.json")
        self._log_fd: Optional[int] = None
        self.header: dict[str, Any] = {}

    # -- reading --------------------------------------------------------------

    def load(self) -> Optional[JournalRecord]:
        try:
            with open(self.header_path) as fh:
                header = json.load(fh)
        except FileNotFoundError:
            return None
        events: list[dict[str, Any]] = []
        try:
            with open(self.log_path) as fh:
                for line in fh:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        events.append(json.loads(line))
                    except json.JSONDecodeError:
                        break  # a torn last line after a crash: ignore it
        except FileNotFoundError:
            pass
        return JournalRecord(header, events)

    def last_run(self) -> Optional[dict[str, Any]]:
        try:
            with open(self.last_path) as fh:
                last: dict[str, Any] = json.load(fh)
                return last
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    # -- writing --------------------------------------------------------------

    def begin(self, header: dict[str, Any], *, append: bool = False) -> None:
        self.header = dict(header)
        self.header.setdefault("started", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        self.header["pid"] = os.getpid()
        _atomic_write(self.header_path, self.header)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (0 if append else os.O_TRUNC)
        self._log_fd = os.open(self.log_path, flags, 0o644)

    def event(self, index: Optional[int], name: str, *, sync: bool = False, **extra: Any) -> None:
        if self._log_fd is None:
            return
        if index is not None and not extra:
            line = f'{{"e":"{name}","i":{index}}}\n'
        elif index is not None and len(extra) == 1 and "to" in extra:
            line = f'{{"e":"{name}","i":{index},"to":{extra["to"]}}}\n'  # block batches
        else:
            rec: dict[str, Any] = {"e": name}
            if index is not None:
                rec["i"] = index
            rec.update(extra)
            line = json.dumps(rec, separators=(",", ":")) + "\n"
        os.write(self._log_fd, line.encode())
        if sync:
            os.fsync(self._log_fd)

    def set_state(self, state: str, **extra: Any) -> None:
        self.header["state"] = state
        self.header.update(extra)
        _atomic_write(self.header_path, self.header)

    def finish(self, summary: dict[str, Any]) -> None:
        """The run ended in a consistent state: drop the journal, keep a summary."""
        if self._log_fd is not None:
            os.close(self._log_fd)
            self._log_fd = None
        last = {k: v for k, v in self.header.items() if k not in ("plan", "units")}
        last["title"] = self.header.get("plan", {}).get("title")
        last["steps"] = len(self.header.get("plan", {}).get("actions", []))
        _atomic_write(self.last_path, {**last, **summary})
        for p in (self.header_path, self.log_path):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass

    def close(self) -> None:
        """Leave the journal in place (interrupted or rollback incomplete)."""
        if self._log_fd is not None:
            os.fsync(self._log_fd)
            os.close(self._log_fd)
            self._log_fd = None
