"""Online every block of the `big` scenario through the simulated kernel.

Prints the tool's overhead per block: wall time of discovery + planning +
apply (lock, journal, write, read-back verify), minus the time the simulated
kernel itself spends reacting to the writes (SimulatedKernel.sim_time_ns).
Target (issue "Changing state"): at most 60 us of tool overhead per block, and
no subprocess per block (everything runs in this one process).

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
from pmemctl.ops.plan.blocks import plan_online  # noqa: E402
from pmemctl.ops.requests import BlockRequest  # noqa: E402
from pmemctl.ops.services import ONLINE_FIELDS  # noqa: E402
from pmemctl.sim.build import materialise  # noqa: E402
from pmemctl.sim.kernel import SimulatedKernel  # noqa: E402
from pmemctl.sim.scenario import scenario_from_toml  # noqa: E402

TARGET_US = 60.0


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
        sim_before = k.sim_time_ns
        start = time.perf_counter_ns()
        total = 0
        for dev in ("dax0.0", "dax1.0"):
            # exactly what `pmemctl online DEV` does: discover, plan, apply
            plan = plan_online(k, discover(k, block_fields=ONLINE_FIELDS), BlockRequest(device=dev))
            out = Executor(k, ApplyOptions()).apply(plan)
            assert out.status == "changed", out.message
            total += len(plan.actions)
        wall = time.perf_counter_ns() - start
        sim = k.sim_time_ns - sim_before
        online = sum(1 for b in discover(k).blocks if b.device and b.online)
        assert online == total, (online, total)
        per_block = (wall - sim) / total / 1000
        print(f"onlined {total} blocks: wall {wall / 1e9:.2f} s, simulated kernel {sim / 1e9:.2f} s")
        ok = per_block <= TARGET_US
        print(f"tool overhead per block: {per_block:.1f} us  target <= {TARGET_US:.0f} us  {'OK' if ok else 'MISSED'}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
