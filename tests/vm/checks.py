"""Parsers the pmemctl-on-the-real-kernel tests share (host side, no pytest).

* :func:`strace_writes` -- the (path, value) writes a traced run made;
* :func:`plan_writes` -- the writes a ``--dry-run --json`` plan announces;
* :func:`sysfs_blocks` -- block states/zones from ``grep -H . state valid_zones``;
* :func:`pm_blocks` -- the same from ``pmemctl blocks -a --json``;
* :func:`numactl_nodes` -- sizes, CPUs and distances from ``numactl -H``;
* :func:`lsmem_ranges` -- ``lsmem -J`` rows.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Optional

_CALLS = r"openat|write|pwrite64|pwritev2|pwritev|close"
_CALL_RE = re.compile(r"^(?P<pid>\d+)\s+(?P<call>" + _CALLS + r")\((?P<args>.*)$")
_RESUMED_RE = re.compile(r"^(?P<pid>\d+)\s+<\.\.\. (?P<call>" + _CALLS + r") resumed>(?P<args>.*)$")
# "6</sys/devices/system/memory/memory33/state>" (-y) or a plain "6"
_FD_RE = re.compile(r"^(?P<fd>\d+)(?:<(?P<path>[^>]*)>)?")
_RESULT_RE = re.compile(r"\)\s+=\s+(?P<ret>-?\d+)(?:\s+(?P<errno>E[A-Z0-9]+))?")
_STR_RE = re.compile(r'"((?:[^"\\]|\\.)*)"(\.\.\.)?')


def _unescape(s: str) -> bytes:
    """strace's C-style string escapes to bytes."""
    out = bytearray()
    i = 0
    simple = {"n": 10, "t": 9, "r": 13, "v": 11, "f": 12, "\\": 92, '"': 34, "'": 39, "a": 7, "b": 8}
    while i < len(s):
        c = s[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        nxt = s[i + 1]
        if nxt in simple:
            out.append(simple[nxt])
            i += 2
        elif nxt == "x":
            out.append(int(s[i + 2:i + 4], 16))
            i += 4
        elif nxt.isdigit():
            m = re.match(r"[0-7]{1,3}", s[i + 1:])
            assert m
            out.append(int(m.group(0), 8))
            i += 1 + len(m.group(0))
        else:
            out += nxt.encode()
            i += 2
    return bytes(out)


@dataclass(frozen=True)
class TracedWrite:
    path: str
    value: str  # decoded; all-NUL data becomes "zeros"
    ret: int
    errno: Optional[str]

    @property
    def pair(self) -> tuple[str, str]:
        return (self.path, self.value)


def strace_writes(text: str, prefixes: tuple[str, ...] = ("/sys/", "/dev/")) -> list[TracedWrite]:
    """Writes to files under ``prefixes`` in an strace log, in order, with
    their results.

    Two log formats are understood: ``strace -f -y -e trace=write,pwrite64``
    (each fd printed with its path, ``write(6</sys/...>, "v", 1) = 1``) and
    ``strace -f -e trace=openat,write,close`` (fds tracked per process from
    the ``openat`` results, forgotten on ``close``).  The journal, stdout and
    anything outside ``prefixes`` are ignored.
    """
    fds: dict[tuple[int, int], str] = {}
    pending: dict[int, tuple[str, str]] = {}
    out: list[TracedWrite] = []
    for line in text.splitlines():
        m = _CALL_RE.match(line)
        if m:
            pid, call, args = int(m["pid"]), m["call"], m["args"]
            if args.endswith("<unfinished ...>"):
                pending[pid] = (call, args[: -len("<unfinished ...>")])
                continue
        else:
            m = _RESUMED_RE.match(line)
            if not m:
                continue
            pid, call = int(m["pid"]), m["call"]
            head = pending.pop(pid, (call, ""))[1]
            args = head + m["args"]
        res = _RESULT_RE.search(args)
        ret = int(res["ret"]) if res else -1
        err = res["errno"] if res else None
        if call == "openat":
            sm = _STR_RE.search(args)
            if not sm or ret < 0:
                continue
            path = _unescape(sm.group(1)).decode(errors="replace")
            flags = args[sm.end():]
            if any(path.startswith(p) for p in prefixes) and ("O_WRONLY" in flags or "O_RDWR" in flags):
                fds[(pid, ret)] = path
            else:
                fds.pop((pid, ret), None)
            continue
        fdm = _FD_RE.match(args)
        if not fdm:
            continue
        fd = int(fdm["fd"])
        if call == "close":
            fds.pop((pid, fd), None)
            continue
        path = fdm["path"] if fdm["path"] is not None else fds.get((pid, fd))
        if path is None or not any(path.startswith(p) for p in prefixes):
            continue
        sm = _STR_RE.search(args, fdm.end())
        data = _unescape(sm.group(1)) if sm else b""
        if data and not data.strip(b"\0"):
            value = "zeros"
        else:
            value = data.decode(errors="replace")
        out.append(TracedWrite(path, value, ret, err))
    return out


_READ_CALL_RE = re.compile(r"^\d+\s+(?:<\.\.\. )?preadv2?\((?P<fd>\d+)<(?P<path>[^>]*)>")
_DUMP_RE = re.compile(r"^\s*\|\s+[0-9a-f]{5}\s+((?:[0-9a-f]{2}\s+)+)")


def strace_zero_reads(text: str) -> dict[str, bool]:
    """Path -> whether its ``preadv`` data was all zeros, from an strace log
    written with ``-e trace=preadv,preadv2 -y -e read=all`` (the hex dump
    follows each call).  pmemctl reads a namespace's first 8 KiB before
    wiping its info block and writes zeros only when they are not zero."""
    out: dict[str, bool] = {}
    current: Optional[str] = None
    for line in text.splitlines():
        m = _READ_CALL_RE.match(line)
        if m:
            current = m["path"]
            out.setdefault(current, True)
            continue
        d = _DUMP_RE.match(line)
        if d and current is not None:
            if any(int(b, 16) for b in d.group(1).split()):
                out[current] = False
            continue
        if not line.lstrip().startswith("*"):
            current = None
    return out


def same_file(planned: str, traced: str) -> bool:
    """A planned kernel path and the path strace showed for the written fd.

    ``strace -y`` prints the file's real path, with symlinks resolved:
    ``/sys/bus/nd/devices/dax0.0/uuid`` is written as
    ``/sys/devices/.../region0/dax0.0/uuid``.  A bus ``devices/NAME`` link
    always points at a directory named NAME, so the two agree when the
    traced path is under /sys/devices and ends with NAME/REST.
    """
    if planned == traced:
        return True
    m = re.match(r"^/sys/bus/[^/]+/devices/([^/]+)/(.+)$", planned)
    return bool(m and traced.startswith("/sys/devices/") and traced.endswith(f"/{m[1]}/{m[2]}"))


def plan_writes(doc: dict) -> list[tuple[str, str]]:
    """The (path, value) writes of a ``--dry-run --json`` (or apply) plan."""
    plan = doc.get("plan") or {}
    return [(w["path"], w["value"]) for step in plan.get("steps", []) for w in step.get("writes", [])]


_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def normalise_uuids(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A fresh uuid is drawn by every run (dry or not): compare it as a shape."""
    return [(p, "<uuid>" if _UUID_RE.match(v.strip()) else v) for p, v in pairs]


def sysfs_blocks(text: str) -> dict[int, tuple[str, str]]:
    """``grep -H . memory*/state memory*/valid_zones`` -> index: (state, zones)."""
    state: dict[int, str] = {}
    zones: dict[int, str] = {}
    for line in text.splitlines():
        m = re.match(r"^/sys/devices/system/memory/memory(\d+)/(state|valid_zones):(.*)$", line)
        if not m:
            continue
        (state if m[2] == "state" else zones)[int(m[1])] = m[3].strip()
    return {i: (state[i], zones.get(i, "")) for i in state}


def pm_blocks(doc: dict) -> dict[int, tuple[str, str, Optional[int], Optional[str]]]:
    """``pmemctl blocks -a --json`` -> index: (state, zones joined, node, device)."""
    out = {}
    for r in doc["ranges"]:
        for i in range(r["first_block"], r["last_block"] + 1):
            out[i] = (r["state"], " ".join(r["zones"]), r["node"], r["device"])
    return out


def numactl_nodes(text: str) -> dict[str, object]:
    """``numactl -H``: nodes, their cpus and sizes (MB), the distance matrix."""
    nodes: dict[int, dict[str, object]] = {}
    dist: dict[int, list[int]] = {}
    header: list[int] = []
    for line in text.splitlines():
        m = re.match(r"^node (\d+) cpus:(.*)$", line)
        if m:
            nodes.setdefault(int(m[1]), {})["cpus"] = [int(c) for c in m[2].split()]
            continue
        m = re.match(r"^node (\d+) (size|free): (\d+) MB$", line)
        if m:
            nodes.setdefault(int(m[1]), {})[m[2]] = int(m[3])
            continue
        m = re.match(r"^node\s+((?:\d+\s*)+)$", line)
        if m:
            header = [int(x) for x in m[1].split()]
            continue
        m = re.match(r"^\s*(\d+):\s+((?:\d+\s*)+)$", line)
        if m and header:
            dist[int(m[1])] = [int(x) for x in m[2].split()]
    return {"nodes": nodes, "header": header, "distances": dist}


def lsmem_ranges(text: str) -> list[dict]:
    return list(json.loads(text)["memory"])


def size_to_bytes(text: str) -> int:
    """lsmem's SIZE column (3.8G, 512M, 128M) -> bytes (rounded as lsmem does)."""
    units = {"B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    return int(float(text[:-1]) * units[text[-1]])


def match_planned_writes(planned, done, zero_reads) -> int:
    """How many planned writes ``done`` carried out, in order; fails at the
    first difference.  A planned info-block wipe (``/dev/X`` <- zeros) may be
    left out when pmemctl's read of the device found it zero already (it
    writes only when not zero, as libndctl does) -- the trace shows that read."""
    j = 0
    for k, (path, value) in enumerate(planned):
        if j < len(done) and same_file(path, done[j][0]) and value == done[j][1]:
            j += 1
            continue
        if path.startswith("/dev/") and value == "zeros" and zero_reads.get(path):
            continue
        if j == len(done):
            return k  # the rest was not reached (a failure stopped the run)
        raise AssertionError(f"write {j}: planned {path} <- {value!r}, done {done[j][0]} <- {done[j][1]!r}"
                             f"\nplanned: {planned}\ndone: {done}")
    assert j == len(done), f"writes beyond the plan: {done[j:]}"
    return len(planned)


def tolerated_failure(w) -> bool:
    """The kernel answers EBUSY to a driver bind that new_id already did
    (real-kernel-lab.md): pmemctl writes it on purpose and ignores it."""
    return w.errno == "EBUSY" and w.path.endswith("/bind") and "/bus/dax/drivers/" in w.path


def unmovable_pfns(dmesg: str, header: str) -> list[int]:
    """pfns of the pages dump_page() reported as unmovable: a first line
    matching ``header`` (the kernel profile's dump_page format) whose record
    ends in ``page dumped because: unmovable page`` a few lines on."""
    lines = dmesg.splitlines()
    out = []
    for i, line in enumerate(lines):
        if re.search(header, line) and any("page dumped because: unmovable page" in later
                                           for later in lines[i + 1:i + 10]):
            m = re.search(r"pfn:0x([0-9a-f]+)", line)
            if m:
                out.append(int(m.group(1), 16))
    return out
