"""How long the simulator takes to materialise the ``big`` scenario at its
default size (49,152 memory blocks): at most 60 s of wall time.

This figure was an assertion in tests/sim/test_sim_big.py; a test does not
time itself (issue 14), that test now checks only what gets built.  The tree
goes to tmpfs where there is one and is removed at the end.

Run: python3 bench/bench_sim_big.py [--blocks 49152] [--runs 1]
Exit status 1 when the median misses the target.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(1, str(BENCH.parent))

from common import check  # noqa: E402

TARGET_S = 60.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--blocks", type=int, default=49152)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    from pmemctl.sim import load_scenario, materialise
    from pmemctl.sim.cases import fast_tmp_base

    scenario = load_scenario("big", {"blocks": str(args.blocks)})
    times: list[float] = []
    for _ in range(args.runs):
        base = tempfile.mkdtemp(prefix="pmemctl-bench-big-", dir=fast_tmp_base())
        try:
            started = time.monotonic()
            materialise(scenario, os.path.join(base, "tree"))
            times.append(time.monotonic() - started)
        finally:
            shutil.rmtree(base, ignore_errors=True)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    ok = check(f"materialise big ({args.blocks} blocks): wall", statistics.median(times), TARGET_S, unit=" s",
               detail=f"load {load}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
