"""Online every block of the `big` scenario through the simulated kernel.

Prints the tool's overhead per block: wall time of discovery + planning +
apply (lock, journal, write, read-back verify), minus the time the simulated
kernel itself spends reacting to the writes (SimulatedKernel.sim_time_ns).
Target (issue "Changing state"): at most 60 us of tool overhead per block, and
no subprocess per block (everything runs in this one process).  Then offlines
them all again the same way (the offline path: printed, target 60 us too),
and prints the simulated kernel's own time per block write against its
target (issue 14: at most 50 us).

Run: python3 bench/bench_online.py [--blocks 49152]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--blocks", type=int, default=49152)
    args = ap.parse_args()
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
        sim_us = sim_ns / writes / 1000
        hit = sim_us <= SIM_TARGET_US
        print(f"simulated kernel per block write: {sim_us:.1f} us  target <= {SIM_TARGET_US:.0f} us  "
              f"{'OK' if hit else 'MISSED'}")
        return 0 if ok and hit else 1


if __name__ == "__main__":
    sys.exit(main())
