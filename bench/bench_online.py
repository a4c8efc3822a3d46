"""Online every block of the `big` scenario through the simulated kernel.

Prints the tool's overhead per block: wall time of discovery + planning +
apply (lock, journal, write, read-back verify), minus the time the simulated
kernel itself spends reacting to the writes (SimulatedKernel.sim_time_ns).
Target (issue "Changing state"): at most 60 us of tool overhead per block, and
no subprocess per block (everything runs in this one process).  Then offlines
them all again the same way (the offline path: printed, target 60 us too).
Then the simulated kernel's own cpu time per block write against its target
(issue 14: at most 50 us) at 1,024, 8,192 and 49,152 blocks, and the growth
exponent of its total over those sizes (at most 1.1); exits 1 on any miss.

Run: python3 bench/bench_online.py [--blocks 49152] [--sim-sizes 1024,8192,49152] [--simulator-only]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common import check, check_growth, shm_dir  # noqa: E402

from pmemctl.model.discover import discover  # noqa: E402
from pmemctl.ops.executor import ApplyOptions, Executor  # noqa: E402
from pmemctl.ops.plan.blocks import plan_offline, plan_online  # noqa: E402
from pmemctl.ops.requests import BlockRequest  # noqa: E402
from pmemctl.ops.services import OFFLINE_FIELDS, ONLINE_FIELDS  # noqa: E402
from pmemctl.sim.build import materialise  # noqa: E402
from pmemctl.sim.kernel import SimulatedKernel  # noqa: E402
from pmemctl.sim.scenario import scenario_from_toml  # noqa: E402

TARGET_US = 60.0
SIM_TARGET_US = 50.0


def all_offline_big(blocks: int, dest: Path) -> Path:
    """The big scenario with every hot-added block offline."""
    text = (resources.files("pmemctl.sim") / "scenarios" / "big.toml").read_text()
    text = re.sub(r"memory = \[.*?\]\n", 'memory = [{ state = "offline" }]\n', text, flags=re.S)
    return materialise(scenario_from_toml("big", text, {"blocks": str(blocks)}), dest)


# --------------------------------------------------------------------------
# the simulated kernel's own time per block write (issue 14)

SIM_SIZES = (1024, 8192, 49152)


def simulated_kernel_rows(sizes: Sequence[int] = SIM_SIZES) -> bool:
    """The simulated kernel's cpu time per block write (SimulatedKernel.sim_cpu_ns;
    wall time and the load average beside it) while every block of dax0.0 and
    dax1.0 of the `big` scenario is onlined, then offlined, exactly as
    `pmemctl online|offline DEV` does (discover, plan, apply), at each size;
    then the growth exponent of its total time over the number of writes (flagged above 1.1).
    True when every figure meets its target."""
    ok = True
    totals: list[float] = []
    counts: list[int] = []  # writes per size (the fixed boot blocks are never written)
    for blocks in sizes:
        with shm_dir("pmemctl-bench-sim-") as tmp:
            k = SimulatedKernel(all_offline_big(blocks, Path(tmp) / "big"))
            k.cpu_clock = time.thread_time_ns
            k.memory.nodes()  # the simulator loads its block cache outside the measurement
            writes = 0
            for planner, fields in ((plan_online, ONLINE_FIELDS), (plan_offline, OFFLINE_FIELDS)):
                for dev in ("dax0.0", "dax1.0"):
                    plan = planner(k, discover(k, block_fields=fields), BlockRequest(device=dev))
                    out = Executor(k, ApplyOptions()).apply(plan)
                    assert out.status == "changed", out.message
                    writes += len(plan.actions)
            totals.append(k.sim_cpu_ns / 1e9)
            counts.append(writes)
            ok &= check(f"simulated kernel cpu per block write, {blocks} blocks", k.sim_cpu_ns / writes / 1000,
                        SIM_TARGET_US, unit=" us",
                        detail=f"{writes} writes, wall {k.sim_time_ns / writes / 1000:.1f} us, "
                               f"load average {os.getloadavg()[0]:.1f}")
    return check_growth("simulated kernel time over block writes", counts, totals) and ok


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--blocks", type=int, default=49152)
    ap.add_argument("--sim-sizes", type=lambda v: tuple(int(x) for x in v.split(",")), default=SIM_SIZES,
                    help="block counts for the simulated kernel's row (comma-separated, smallest first)")
    ap.add_argument("--simulator-only", action="store_true", help="only the simulated kernel's row")
    args = ap.parse_args()
    if args.simulator_only:
        return 0 if simulated_kernel_rows(args.sim_sizes) else 1
    # sysfs lives in memory: put the simulated tree on tmpfs where there is one
    shm = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="pmemctl-bench-online-", dir=shm) as tmp:
        t0 = time.perf_counter()
        root = all_offline_big(args.blocks, Path(tmp) / "big")
        print(f"materialised {args.blocks} blocks in {time.perf_counter() - t0:.1f} s")
        k = SimulatedKernel(root)
        k.memory.nodes()  # the simulator loads its block cache outside the measurement
        ok = True
        sim_ns = writes = 0
        for what, planner, fields in (("onlined", plan_online, ONLINE_FIELDS),
                                      ("offlined", plan_offline, OFFLINE_FIELDS)):
            sim_before = k.sim_time_ns
            start = time.perf_counter_ns()
            total = 0
            for dev in ("dax0.0", "dax1.0"):
                # exactly what `pmemctl online|offline DEV` does: discover, plan, apply
                plan = planner(k, discover(k, block_fields=fields), BlockRequest(device=dev))
                out = Executor(k, ApplyOptions()).apply(plan)
                assert out.status == "changed", out.message
                total += len(plan.actions)
            wall = time.perf_counter_ns() - start
            sim = k.sim_time_ns - sim_before
            online = sum(1 for b in discover(k).blocks if b.device and b.online)
            assert online == (total if what == "onlined" else 0), (online, total)
            per_block = (wall - sim) / total / 1000
            sim_ns += sim
            writes += total
            print(f"{what} {total} blocks: wall {wall / 1e9:.2f} s, simulated kernel {sim / 1e9:.2f} s")
            hit = per_block <= TARGET_US
            ok &= hit
            print(f"tool overhead per block ({what[:-1]}): {per_block:.1f} us  target <= {TARGET_US:.0f} us  "
                  f"{'OK' if hit else 'MISSED'}")
        _ = sim_ns, writes  # the simulator's own figures: simulated_kernel_rows, at several sizes
        hit = simulated_kernel_rows(args.sim_sizes)
        return 0 if ok and hit else 1

if __name__ == "__main__":
    sys.exit(main())
