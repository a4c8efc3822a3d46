"""The simulated kernel's door: :class:`SimulatedKernel`.

A :class:`~pmemctl.sysfs.door.SysfsRoot` over a materialised tree (one with
``.pmemctl-sim/``).  Reads are plain file reads; writes first pass the same
checks as on the real door (no create, write bits, confinement), then go to
the subsystem that reacts to them, which answers as a 6.1+ kernel does, with
the kernel's errnos (kernel-abi.md §7, real-kernel-lab.md "Write semantics").
A handler refuses by raising :class:`~pmemctl.sim.kernel.errors.WriteRefused`;
the door turns that into the typed error the real door raises.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Optional, Sequence

from pmemctl.errors import kernel_error
from pmemctl.sim.kernel import state
from pmemctl.sim.kernel.confined import check_tree
from pmemctl.sim.kernel.context import SimContext
from pmemctl.sim.kernel.dax import DaxDrivers
from pmemctl.sim.kernel.errors import WriteRefused
from pmemctl.sim.kernel.memory import MemoryBlocks
from pmemctl.sim.machine import MachineSpec
from pmemctl.sysfs import paths
from pmemctl.sysfs.door import SysfsRoot, ToolResult, ToolUnavailable, clean_value

if TYPE_CHECKING:  # pragma: no cover
    from pmemctl.sim.kernel.dax_state import DaxHotplugState
    from pmemctl.sim.kernel.nd import NdKernel

#: inside a burst, the longest node/proc meminfo and zoneinfo may lag behind
#: the blocks for another process reading the tree (this one's reads never see them lag)
SETTLE_NS = 10_000_000
#: the files derived from the blocks' states (node and /proc meminfo, /proc/zoneinfo)
_DERIVED_SUFFIXES = ("meminfo", "zoneinfo")


def _no_clock() -> int:
    return 0


#: block writes load the simulator's cache of every block on the first one
_BLOCK_PREFIX = paths.MEMORY + "/memory"


@contextlib.contextmanager
def _real_timer_paused() -> Iterator[None]:
    """The simulator's one-time set-up (checking the tree, loading every
    block's state: seconds on a large tree) is no part of the kernel answering
    a write, so a timer bounding that write (ops/signals.py: SIGALRM, the
    per-block --timeout) waits while it runs."""
    delay, interval = signal.setitimer(signal.ITIMER_REAL, 0)
    try:
        yield
    finally:
        if delay:
            signal.setitimer(signal.ITIMER_REAL, delay, interval)


class SimulatedKernel(SysfsRoot):
    """A sysroot whose writes are answered the way the Linux kernel answers them."""

    machine = "simulated"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        super().__init__(root)
        self.ctx = SimContext(self)
        self.tree = self.ctx.tree
        self.marker = self.ctx.marker
        self.faults = self.ctx.faults
        #: memory blocks, zones, nodes, tiers, hotplug policy (:mod:`.memory`)
        self.memory = MemoryBlocks(self.ctx)
        #: device_dax and kmem (:mod:`.dax`)
        self.dax = DaxDrivers(self.ctx, self.memory, self._refresh_iomem)
        # a reader of another process waiting on a hung offline sees the derived files right
        self.faults.before_hang = self.memory.write_derived
        self._nd: Optional[NdKernel] = None
        self._dax_state: Optional[DaxHotplugState] = None
        #: nanoseconds spent reacting to writes, wall clock and cpu (benchmarks subtract it)
        self.sim_time_ns = 0
        self.sim_cpu_ns = 0
        #: the cpu clock sim_cpu_ns counts with (a benchmark sets time.thread_time_ns;
        #: off by default: reading it is a system call, two per write)
        self.cpu_clock: Callable[[], int] = _no_clock
        self._bursts = 0  # open burst() contexts
        self._answering = 0  # writes being answered (a handler reads through this door)
        self._tree_checked = False

    @property
    def spec(self) -> MachineSpec:
        """The resolved scenario (static facts), without its block list."""
        return self.ctx.machine

    @property
    def block_size(self) -> int:
        return self.ctx.block_size

    # ------------------------------------------------------------------ door

    def write(self, kpath: str, value: str) -> None:
        target = self.check_writable(kpath, value)
        if not self._tree_checked:  # before the first answer changes anything
            with _real_timer_paused():
                check_tree(self.root)
            self._tree_checked = True
        if not self.memory.loaded and kpath.startswith(_BLOCK_PREFIX):
            with _real_timer_paused():
                self.memory.nodes()
        self.ctx.tree.checked_by_door(target)
        self._answering += 1
        start, cpu = time.perf_counter_ns(), self.cpu_clock()
        memory = self.memory
        memory.held = True  # derived files are written once, below
        try:
            self.faults.writing()
            text = clean_value(value.encode())
            self.faults.count_write(self.dax.vanish_device, target)
            handler = self._handler_for(target)
            if handler is None:
                self.ctx.store_plain(target, text)
            else:
                handler(target, text)
        except WriteRefused as said:
            raise kernel_error(kpath, said.errno, value=value) from None
        finally:
            self._answering -= 1
            memory.held = self._answering > 0
            stale = memory.stale_since
            # outside a burst every write leaves the tree as the kernel shows it;
            # inside one, node/proc meminfo and zoneinfo lag by SETTLE_NS at most
            if stale is not None and not memory.held and (
                    not self._bursts or time.monotonic_ns() - stale >= SETTLE_NS):
                memory.write_derived()
            self.faults.done_writing()
            self.sim_time_ns += time.perf_counter_ns() - start
            self.sim_cpu_ns += self.cpu_clock() - cpu

    @contextlib.contextmanager
    def burst(self) -> Iterator[None]:
        """A run of writes (one plan applied): node meminfo, /proc/meminfo and
        /proc/zoneinfo are written once at its end instead of after every
        block.  Meanwhile a read of one of them through this door, any read
        of many files or a real tool run brings them up to date first, and
        another process reading the tree sees them at most ``SETTLE_NS``
        behind while the burst writes or reads (an injected hang writes them first).
        Meanwhile too, faults.json is looked at again only after the marker
        directory changed (:meth:`Faults.watch`)."""
        self._bursts += 1
        if self._bursts == 1:
            self.faults.watch()
        try:
            yield
        finally:
            self._bursts -= 1
            if not self._bursts:
                self.faults.unwatch()
                self.settle()

    def settle(self) -> None:
        """Write the derived files a burst left stale (counted as the simulated kernel's time)."""
        if self.memory.stale_since is None or self._answering:
            return  # (the simulator's own reads while it answers a write: that write settles at its end)
        start, cpu = time.perf_counter_ns(), self.cpu_clock()
        try:
            self.memory.write_derived()
        finally:
            self.sim_time_ns += time.perf_counter_ns() - start
            self.sim_cpu_ns += self.cpu_clock() - cpu

    # reads see the derived files as the blocks are now

    def _open_read(self, kpath: str, *, checked: bool = True) -> int:
        stale = self.memory.stale_since
        # one of them, or any file once they are SETTLE_NS old (a burst that
        # polls instead of writing, such as a wait, lets no other process see them lag longer)
        if stale is not None and (kpath.endswith(_DERIVED_SUFFIXES) or time.monotonic_ns() - stale >= SETTLE_NS):
            self.settle()
        return super()._open_read(kpath, checked=checked)

    def read_many(self, relpaths: list[str], base: str) -> list[Optional[str]]:
        self.settle()  # (a forked child may read half of them)
        return super().read_many(relpaths, base)

    def processes_using(self, devnode: str) -> list[tuple[int, str]]:
        """Processes declared in ``.pmemctl-sim/holders.json`` as using ``devnode``."""
        return state.holders(self.root, devnode)

    def wipe_info_block(self, devnode: str, nbytes: int = 8192) -> Optional[bool]:
        """The door's info-block wipe (kernel-abi.md §5.3) on a tree that keeps
        no device contents: the info block the simulated drivers recorded on
        the media of the raw namespace behind ``devnode`` is forgotten, as the
        FUSE bridge's stand-in disk does when ndctl zeroes it."""
        disk = devnode.rsplit("/", 1)[-1]
        target = self.tree.resolve_link(f"/sys/class/block/{disk}")
        ns = os.path.dirname(os.path.dirname(target)) if target else None
        if ns is None or not os.path.basename(ns).startswith("namespace"):
            raise kernel_error(devnode, errno.ENOENT, op="open")  # no raw namespace disk of that name
        had = state.info_block(self.root, ns) is not None
        state.forget_info_block(self.root, ns)
        return had

    def tool_unavailable_reason(self, tool: str) -> Optional[str]:
        """Real tools run against this tree through the FUSE bridge (pmemctl.sim.fuse)."""
        return tool_unavailable_reason(tool)

    def run_tool(self, argv: Sequence[str], *, timeout: float) -> ToolResult:
        """Run the real tool with this tree as its machine (the FUSE bridge):
        its writes reach this simulated kernel."""
        reason = self.tool_unavailable_reason(argv[0])
        if reason is not None:
            raise ToolUnavailable(reason)
        self.settle()  # the tool reads the tree itself
        from pmemctl.sim import fuse

        try:
            proc = fuse.run_real_tool_on_sim(Path(self.root), list(argv), timeout=timeout)
        except subprocess.TimeoutExpired as err:
            raise kernel_error(shlex.join(argv), errno.ETIMEDOUT, op="run") from err
        except (RuntimeError, OSError) as err:  # FuseUnavailable is a RuntimeError
            raise ToolUnavailable(f"cannot run {argv[0]} on the simulated tree: {err}") from err
        return ToolResult(tuple(argv), proc.returncode, proc.stdout or "", proc.stderr or "")

    # --------------------------------------------------------------- routing

    def _handler_for(self, target: str) -> Optional[Callable[[str, str], None]]:
        if target.startswith("/sys/devices/system/memory/memory"):
            return self.memory.block_write
        if target == paths.AUTO_ONLINE_BLOCKS:
            return self.memory.auto_online_write
        if target == paths.DEMOTION_ENABLED:
            return self.memory.demotion_write
        if target.startswith(paths.DAX_DRIVERS + "/"):
            return self.dax.driver_write
        if target.endswith("/state") and target.startswith("/sys/devices/") and self._is_dax_state(target):
            return self.dax_state.write  # the proposed daxX.Y/state (:mod:`.dax_state`)
        if target.endswith("/memmap_on_memory") and target.startswith("/sys/devices/"):
            return self.dax.memmap_on_memory_write  # daxX.Y's (the module parameter is read-only)
        if target.startswith(paths.ND_DRIVERS + "/") or (target.startswith("/sys/devices/") and "/ndbus" in target):
            return self.nd.write  # nd bus: namespaces, seeds, nd drivers (kernel-abi.md §5, §7.7)
        return None

    @staticmethod
    def _is_dax_state(target: str) -> bool:
        from pmemctl.sim.kernel.dax_state import STATE_FILE_RE

        return STATE_FILE_RE.search(target) is not None

    @property
    def dax_state(self) -> DaxHotplugState:
        """The proposed ``daxX.Y/state`` handler (loaded on its first write)."""
        if self._dax_state is None:
            from pmemctl.sim.kernel.dax_state import DaxHotplugState

            self._dax_state = DaxHotplugState(self.ctx, self.memory, self.dax)
        return self._dax_state

    @property
    def nd(self) -> NdKernel:
        """The nd bus handler (loaded on the first nd write)."""
        if self._nd is None:
            from pmemctl.sim.kernel.nd import NdKernel

            self._nd = NdKernel(self.ctx, self.dax, self._refresh_iomem)
        return self._nd

    def _refresh_iomem(self) -> None:
        """Rewrite /proc/iomem from the live tree (drivers, namespaces and dax
        devices created or removed since the scenario was built)."""
        from pmemctl.sim.kernel.iomem import refresh_iomem

        refresh_iomem(self.ctx)

    def vanish_device(self, name: str) -> None:
        """Make a dax device disappear (a surprise removal / hot-unplug)."""
        self.dax.vanish_device(name)


def tool_unavailable_reason(tool: str) -> Optional[str]:
    """Why the real ``tool`` cannot run on a simulated tree here (None: it can)."""
    if shutil.which(tool) is None:
        return f"{tool} is not installed"
    from pmemctl.sim import fuse  # loads the FUSE binding: only when a tool runs

    return fuse.fuse_skip_reason()


__all__ = ["SimulatedKernel", "tool_unavailable_reason"]
