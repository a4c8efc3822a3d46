"""The tool's own time per memory block on the four change paths, and its
sysfs opens per block (issue 14).

Paths, each a whole command run in this process through the CLI (argument
parsing, discovery, planning, the plan shown, lock, journal, every write
read back, the outcome rendered) on the `big` scenario, once per dax device:
``online``, ``offline``, ``reconfigure --mode devdax`` and
``reconfigure --mode system-ram``.  The tool's time is the cpu time of
this process minus the cpu time spent inside the simulated kernel's write
and settle (the thread's cpu clock; the door's own checks on the path of
each write stay the tool's: see _SimClock), divided by the blocks the
commands changed.
Target: at most 40 us per block on each path at every size but the
smallest, and the time growing linearly with the block count (fitted
exponent at most 1.1).  The smallest size stands for the fixed cost (a
command's discovery of the nd and dax objects, lock, journal and rendering:
a few ms, which its few hundred blocks cannot amortise): its per-block
figure and its milliseconds a command are printed, not judged.

Then the sysfs opens: ``online``/``offline DEV --count N`` run as
``python -m pmemctl`` under ``strace -f -e trace=openat,open,openat2``, counting the
opens of files in the tree's memoryN directories.  The figure is the opens
each additional block costs (two runs on fresh, identical trees, N2 - N1
blocks apart: discovery and start-up are the same in both and cancel), target
at most 2: the write and one read-back.  The whole command's opens divided
by N are printed next to it (they include discovery's reads of every block).

Also prints the simulated kernel's own time per block write against its
target (at most 50 us; the median of several online/offline cycles at the
small sizes) and its growth over the writes.  Exits 1 when a figure misses
its target.

Run: python3 bench/bench_online.py [--sizes 512,8192,49152] [--runs 3] [--no-strace]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Callable, Sequence

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import check, check_growth, shm_dir, source_env  # noqa: E402

from pmemctl.cli.main import cli  # noqa: E402
from pmemctl.model.discover import discover  # noqa: E402
from pmemctl.ops.executor import ApplyOptions, Executor  # noqa: E402
from pmemctl.ops.plan.blocks import plan_offline, plan_online  # noqa: E402
from pmemctl.ops.requests import BlockRequest  # noqa: E402
from pmemctl.ops.services import OFFLINE_FIELDS, ONLINE_FIELDS  # noqa: E402
from pmemctl.sim.build import materialise  # noqa: E402
from pmemctl.sim.kernel import SimulatedKernel  # noqa: E402
from pmemctl.sim.scenario import scenario_from_toml  # noqa: E402
from pmemctl.sysfs.door import SysfsRoot  # noqa: E402

TARGET_US = 40.0
SIM_TARGET_US = 50.0
OPENS_TARGET = 2.0
GROWTH_LIMIT = 1.1
DEVICES = ("dax0.0", "dax1.0")
#: path name -> the command line for one device (after --sysroot TREE)
PATHS: dict[str, Callable[[str], list[str]]] = {
    "online": lambda dev: ["online", dev, "--yes", "--force"],
    "offline": lambda dev: ["offline", dev, "--yes", "--force"],
    "-> devdax": lambda dev: ["reconfigure", dev, "--mode", "devdax", "--yes", "--force"],
    "-> system-ram": lambda dev: ["reconfigure", dev, "--mode", "system-ram", "--yes", "--force"],
}
#: a memory block's state (with .endswith("/state"): one block changed)
_MEMORY_PREFIX = "/sys/devices/system/memory/memory"


def all_offline_big(blocks: int, dest: Path) -> Path:
    """The big scenario with every hot-added block offline."""
    text = (resources.files("pmemctl.sim") / "scenarios" / "big.toml").read_text()
    text = re.sub(r"memory = \[.*?\]\n", 'memory = [{ state = "offline" }]\n', text, flags=re.S)
    return materialise(scenario_from_toml("big", text, {"blocks": str(blocks)}), dest)


# --------------------------------------------------------------------------
# the tool's time per block


class _SimClock:
    """Adds up the simulated kernel's cpu time over every SimulatedKernel
    the CLI makes (one per command), and counts the memory block state
    writes (one per block changed).  cpu time, not wall: on a loaded machine
    the wall time mostly measures the other processes.

    The simulator's time is the whole of SimulatedKernel.write and .settle
    (its bookkeeping around the part it times itself, sim_cpu_ns, included)
    except the checks the door makes on the path of every write
    (SysfsRoot.check_writable: the confinement a write under a sysroot
    makes whoever answers it), which stay the tool's."""

    def __init__(self) -> None:
        self.ns = 0
        self.writes = 0
        self._depth = 0  # simulator calls in progress (its own nested ones are not counted twice)
        self._door_checks = 0  # ns of the door's checks inside them
        original_write, original_settle = SimulatedKernel.write, SimulatedKernel.settle
        original_check = SysfsRoot.check_writable
        clock = time.thread_time_ns

        # (the wrappers are as lean as they can be, no lambda: what they cost
        # outside the clock's window is counted as the tool's)
        def timed(call: Callable[..., None], *args: object) -> None:
            if self._depth:  # the simulator's own nested call: its time is the outer one's
                call(*args)
                return
            self._depth = 1
            checks, start = self._door_checks, clock()
            try:
                call(*args)
            finally:
                self.ns += clock() - start - (self._door_checks - checks)
                self._depth = 0

        def write(kernel: SimulatedKernel, kpath: str, value: str) -> None:
            timed(original_write, kernel, kpath, value)
            if kpath.endswith("/state") and kpath.startswith(_MEMORY_PREFIX):
                self.writes += 1

        def settle(kernel: SimulatedKernel) -> None:
            # the derived files a burst of writes left stale, written at its end (or on a read)
            timed(original_settle, kernel)

        def check_writable(door: SysfsRoot, kpath: str, value: str) -> str:
            start = clock()
            try:
                return original_check(door, kpath, value)
            finally:
                if self._depth:
                    self._door_checks += clock() - start

        SimulatedKernel.write = write  # type: ignore[method-assign]
        SimulatedKernel.settle = settle  # type: ignore[method-assign]
        SysfsRoot.check_writable = check_writable  # type: ignore[method-assign]


def _children_cpu_ns() -> int:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return int((kids.ru_utime + kids.ru_stime) * 1e9)


def _cpu_ns() -> int:
    """cpu time of this process and its finished children (none are expected)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return int((own.ru_utime + own.ru_stime) * 1e9) + _children_cpu_ns()


def run_command(tree: Path, argv: list[str]) -> tuple[int, str]:
    """One pmemctl command in this process: (exit code, what it printed)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.main(args=["--sysroot", str(tree), *argv], prog_name="pmemctl", standalone_mode=False)
    return int(code or 0), out.getvalue()


def time_path(tree: Path, clock: _SimClock, path: str) -> tuple[float, int, int]:
    """Run ``path`` on each device: (tool cpu seconds, blocks changed, simulated kernel cpu ns)."""
    make = PATHS[path]
    sim_before, writes_before = clock.ns, clock.writes
    start = _cpu_ns()
    for dev in DEVICES:
        code, text = run_command(tree, make(dev))
        if code != 0:
            raise RuntimeError(f"pmemctl {' '.join(make(dev))} exited {code}:\n{text[-2000:]}")
    cpu = _cpu_ns() - start
    sim = clock.ns - sim_before
    return (cpu - sim) / 1e9, clock.writes - writes_before, sim


def measure_size(blocks: int, runs: int, clock: _SimClock, base: str | None,
                 sim_block_writes: list[int]) -> dict[str, tuple[float, int]]:
    """Median tool seconds and blocks changed of each path on a `big` tree of
    ``blocks``; adds (simulated kernel ns, block writes) of the online and
    offline paths to ``sim_block_writes``."""
    times: dict[str, list[float]] = {p: [] for p in PATHS}
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="pmemctl-bench-online-", dir=base) as tmp:
        t0 = time.perf_counter()
        tree = all_offline_big(blocks, Path(tmp) / "big")
        print(f"\n{blocks} blocks: materialised in {time.perf_counter() - t0:.1f} s  (load {_load()})")
        time_path(tree, clock, "online")  # warm-up; every cycle below starts and ends all online
        for _ in range(runs):
            for path in ("offline", "online", "-> devdax", "-> system-ram"):
                seconds, changed, sim_ns = time_path(tree, clock, path)
                times[path].append(seconds)
                counts[path] = changed
                if path in ("online", "offline"):
                    sim_block_writes[0] += sim_ns
                    sim_block_writes[1] += changed
    return {p: (statistics.median(ts), counts[p]) for p, ts in times.items()}


# --------------------------------------------------------------------------
# sysfs opens per block (strace)


#: one open/openat/openat2 line of ``strace -y``: the directory fd's path, the path, the flags
#: (openat2: the door's confinement check of a write opens the attribute O_PATH with it)
_OPEN_RE = re.compile(r'\bopen(?:at2?)?\((?:(?:\d+|AT_FDCWD)(?:<([^>]*)>)?, )?"([^"]*)", (?:\{flags=)?([A-Z_|]+)')


def _opens_under_blocks(log: Path, tree: Path) -> int:
    """open/openat calls in an ``strace -y`` log on files inside the tree's
    memoryN directories, by absolute path or relative to a directory fd.
    Opens that create or truncate, and opens of ``memoryN/online`` (the
    simulated kernel, in the same process, rewriting an attribute or
    flipping ``online`` in place) are not pmemctl's: it never does either,
    and never opens ``memoryN/online``."""
    memory = f"{os.path.realpath(tree)}/sys/devices/system/memory/memory"
    n = 0
    with open(log, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = _OPEN_RE.search(line)
            if m is None or "O_CREAT" in m.group(3) or "O_TRUNC" in m.group(3):
                continue
            path = m.group(2) if m.group(2).startswith("/") or not m.group(1) else f"{m.group(1)}/{m.group(2)}"
            n += path.startswith(memory) and not path.endswith("/online")
    return n


def strace_opens(command: str, count: int, blocks: int, base: str | None) -> int:
    """Opens inside memoryN directories of ``pmemctl COMMAND dax0.0 --count N``
    on a fresh tree (for offline: with dax0.0 onlined first, untraced)."""
    with tempfile.TemporaryDirectory(prefix="pmemctl-bench-strace-", dir=base) as tmp:
        tree = all_offline_big(blocks, Path(tmp) / "big")
        env = source_env(REPO)
        py = [sys.executable, "-m", "pmemctl", "--sysroot", str(tree)]
        if command == "offline":
            subprocess.run([*py, "online", "dax0.0", "--yes", "--force"], check=True, env=env,
                           stdout=subprocess.DEVNULL)
        log = Path(tmp) / "strace.log"
        subprocess.run(["strace", "-f", "-qq", "-y", "-e", "trace=openat,open,openat2", "-o", str(log),
                        *py, command, "dax0.0", "--count", str(count), "--yes", "--force"],
                       check=True, env=env, stdout=subprocess.DEVNULL)
        return _opens_under_blocks(log, tree)


def opens_rows(base: str | None, blocks: int = 2048, counts: tuple[int, int] = (256, 768)) -> bool:
    if shutil.which("strace") is None:
        print("sysfs opens per block: strace is not installed (apt-get install strace)  MISSED")
        return False
    ok = True
    n1, n2 = counts
    for command in ("online", "offline"):
        c1 = strace_opens(command, n1, blocks, base)
        c2 = strace_opens(command, n2, blocks, base)
        ok &= check(f"sysfs opens per block, {command} (strace, N={n1} vs {n2})", (c2 - c1) / (n2 - n1), OPENS_TARGET,
                    unit=" ", detail=f"whole command {c2 / n2:.2f} per block: discovery of {blocks} blocks and "
                           "the in-process simulator's cache load included")
    return ok


# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# the simulated kernel's own time per block write (issue 14)

SIM_SIZES = (1024, 8192, 49152)


#: block writes a size's cycles add up to at least (at most SIM_MAX_CYCLES cycles):
#: the small sizes' few hundred milliseconds are repeated, their median taken
SIM_MIN_WRITES = 40_000
SIM_MAX_CYCLES = 5


def _sim_cycle(k: SimulatedKernel) -> tuple[int, int, int]:
    """Every block of dax0.0 and dax1.0 onlined, then offlined, exactly as
    ``pmemctl online|offline DEV`` does (discover, plan, apply): the
    simulated kernel's (cpu ns, wall ns, block writes) of that cycle."""
    cpu, wall, writes = k.sim_cpu_ns, k.sim_time_ns, 0
    for planner, fields in ((plan_online, ONLINE_FIELDS), (plan_offline, OFFLINE_FIELDS)):
        for dev in DEVICES:
            plan = planner(k, discover(k, block_fields=fields), BlockRequest(device=dev))
            out = Executor(k, ApplyOptions()).apply(plan)
            assert out.status == "changed", out.message
            writes += len(plan.actions)
    return k.sim_cpu_ns - cpu, k.sim_time_ns - wall, writes


def simulated_kernel_rows(sizes: Sequence[int] = SIM_SIZES) -> bool:
    """The simulated kernel's cpu time per block write (SimulatedKernel.sim_cpu_ns;
    wall time and the load average beside it) over cycles of :func:`_sim_cycle`
    on the `big` scenario, at each size: as many cycles as make
    SIM_MIN_WRITES writes (at most SIM_MAX_CYCLES; a cycle ends where it
    began, every block offline), their median.  Then the growth exponent of
    its time over the number of writes (flagged above 1.1), fitted over every
    size as measured: the simulator's set-up (loading its block cache) is
    outside the measurement, so it has no fixed cost to take off.
    True when every figure meets its target."""
    ok = True
    totals: list[float] = []
    counts: list[int] = []  # writes per size (the fixed boot blocks are never written)
    for blocks in sizes:
        with shm_dir("pmemctl-bench-sim-") as tmp:
            k = SimulatedKernel(all_offline_big(blocks, Path(tmp) / "big"))
            k.cpu_clock = time.thread_time_ns
            k.memory.nodes()  # the simulator loads its block cache outside the measurement
            cycles = [_sim_cycle(k)]
            writes = cycles[0][2]
            while len(cycles) < min(SIM_MAX_CYCLES, -(-SIM_MIN_WRITES // writes)):
                cycles.append(_sim_cycle(k))
            cpu = statistics.median(c[0] for c in cycles)
            wall = statistics.median(c[1] for c in cycles)
            totals.append(cpu / 1e9)
            counts.append(writes)
            ok &= check(f"simulated kernel cpu per block write, {blocks} blocks", cpu / writes / 1000,
                        SIM_TARGET_US, unit=" us",
                        detail=f"median of {len(cycles)} cycle(s) of {writes} writes, "
                               f"wall {wall / writes / 1000:.1f} us, load average {os.getloadavg()[0]:.1f}")
    return check_growth("simulated kernel time over block writes", counts, totals, fixed_cost=False) and ok


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="512,8192,49152",
                    help="block counts; the first, small, stands for the fixed cost in the growth fit")
    ap.add_argument("--runs", type=int, default=3,
                    help="cycles of the four paths per size (their median: one run swings by 15 %% here)")
    ap.add_argument("--no-strace", action="store_true", help="leave out the sysfs-opens rows")
    ap.add_argument("--sim-sizes", type=lambda v: tuple(int(x) for x in v.split(",")), default=SIM_SIZES,
                    help="block counts for the simulated kernel's row (comma-separated, smallest first)")
    ap.add_argument("--simulator-only", action="store_true", help="only the simulated kernel's row")
    args = ap.parse_args()
    if args.simulator_only:
        return 0 if simulated_kernel_rows(args.sim_sizes) else 1
    sizes = [int(s) for s in args.sizes.split(",")]
    # sysfs lives in memory: put the simulated trees on tmpfs where there is one
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    clock = _SimClock()
    ok = True
    sim = [0, 0]  # simulated kernel ns, block writes (online and offline)
    results = {n: measure_size(n, args.runs, clock, base, sim) for n in sizes}
    print(f"\ntool time per block changed (load {_load()})")
    for k, n in enumerate(sizes):
        for path, (seconds, changed) in results[n].items():
            name = f"{path} at {n} blocks ({changed} changed), us/block"
            if k == 0 and len(sizes) > 1:
                # the fixed-cost size: a command's discovery of the nd and dax
                # objects, lock, journal and rendering outweigh its few blocks
                print(f"{name:<58} {seconds / changed * 1e6:8.3f}us  (fixed-cost size: not judged; "
                      f"{seconds / len(DEVICES) * 1e3:.1f} ms a command)")
                continue
            ok &= check(name, seconds / changed * 1e6, TARGET_US, unit="us", detail=f"{seconds:.2f} s")
    for path in PATHS:
        ok &= check_growth(f"{path} tool time", sizes, [results[n][path][0] for n in sizes], GROWTH_LIMIT)
    if sim[1]:  # for information: the simulator's own rows (target, sizes, growth) follow
        print(f"simulated kernel per block write during the paths above: {sim[0] / sim[1] / 1000:.1f} us")
    ok &= simulated_kernel_rows(args.sim_sizes)
    if not args.no_strace:
        ok &= opens_rows(base)
    print(f"(load {_load()})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
