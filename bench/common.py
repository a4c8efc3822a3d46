"""Shared helpers for the benchmarks: alternate runs, medians, peak RSS."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parent.parent
PMEMCTL = [sys.executable, "-m", "pmemctl"]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    e["NO_COLOR"] = "1"
    e.pop("PMEMCTL_SYSROOT", None)
    return e


def run_once(argv: Sequence[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env())
    return time.perf_counter() - t0


def alternate(a: Sequence[str], b: Sequence[str], runs: int) -> tuple[float, float]:
    """Median wall time of a and b, runs interleaved a, b, a, b ... after one warm-up each."""
    run_once(a)
    run_once(b)
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(runs):
        ta.append(run_once(a))
        tb.append(run_once(b))
    return statistics.median(ta), statistics.median(tb)


def peak_rss_mb(argv: Sequence[str]) -> float:
    """Peak RSS (MiB) of one child process, measured by a fresh helper process."""
    code = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, *argv], check=True, capture_output=True, text=True, env=env())
    return int(out.stdout.strip()) / 1024


def big_tree(blocks: int) -> Path:
    """Materialise (once, cached in /tmp) the `big` scenario with ``blocks`` blocks."""
    # sysfs lives in memory: so does the benchmark tree, where tmpfs exists
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
    cache = Path(base) / f"pmemctl-bench-big-{blocks}"
    if not (cache / ".pmemctl-sim").exists():
        subprocess.run(
            [*PMEMCTL, "sim", "create", str(cache), "--scenario", "big", "--set", f"blocks={blocks}", "--force"],
            check=True, env=env(), stdout=subprocess.DEVNULL,
        )
    return cache


def report(name: str, ours: float, ref: float, target: float, unit: str = "s") -> bool:
    ratio = ours / ref if ref else float("inf")
    ok = ratio <= target
    print(f"{name:<44} pmemctl {ours:8.4f}{unit}  reference {ref:8.4f}{unit}  ratio {ratio:5.2f}  "
          f"target <= {target:.2f}  {'OK' if ok else 'MISSED'}")
    return ok

_ = resource  # resource is used by the child snippet; imported here to fail early where missing
