"""Completions of real names on `big` (issue 15 item 16: within 100 ms).

Times what a shell's completion call costs pmemctl once its modules are
imported: click's completion machinery (the code bash, zsh and fish call)
asked for block ranges (``offline --blocks``), dax devices
(``reconfigure``) and nodes (``blocks --node``) on `big` trees of several
sizes.  Each figure is the median of RUNS calls (wall time, in this
process); the whole process (start-up included) is printed beside it as cpu
time, for information.  Exit status 1 when a figure misses the target.

Run: python3 bench/bench_completion.py [--sizes 16384,49152] [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TARGET_S = 0.100
QUERIES = (["offline", "--blocks"], ["reconfigure"], ["blocks", "--node"])


def complete(args: list[str]) -> list[str]:
    from click.shell_completion import ShellComplete

    from pmemctl.cli.main import cli

    comp = ShellComplete(cli, {}, "pmemctl", "_PMEMCTL_COMPLETE")
    return [str(c.value) for c in comp.get_completions(args, "")]


def process_cpu(tree: Path, args: list[str]) -> float:
    """cpu seconds of one whole completion process, as a shell runs it."""
    words = ["pmemctl", "--sysroot", str(tree), *args, ""]
    env = dict(os.environ, _PMEMCTL_COMPLETE="bash_complete", COMP_WORDS=" ".join(words),
               COMP_CWORD=str(len(words) - 1), PYTHONPATH=str(REPO))
    before = os.times()
    subprocess.run([sys.executable, "-m", "pmemctl"], env=env, check=True, stdout=subprocess.DEVNULL)
    after = os.times()
    return (after.children_user - before.children_user) + (after.children_system - before.children_system)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="16384,49152")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    work = Path(tempfile.mkdtemp(prefix="pmemctl-bench-completion-", dir=base))
    ok = True
    try:
        print(f"load average {os.getloadavg()[0]:.1f}; target {TARGET_S * 1000:.0f} ms per completion")
        for size in (int(s) for s in args.sizes.split(",")):
            tree = work / f"big-{size}"
            subprocess.run([sys.executable, "-m", "pmemctl", "sim", "create", str(tree), "--scenario", "big",
                            "--set", f"blocks={size}"], check=True, stdout=subprocess.DEVNULL,
                           env=dict(os.environ, PYTHONPATH=str(REPO)))
            for query in QUERIES:
                argv = ["--sysroot", str(tree), *query]
                assert complete(argv), f"no completion for {query}"  # warm: imports, page cache
                times = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    complete(argv)
                    times.append(time.perf_counter() - t0)
                median = statistics.median(times)
                hit = median <= TARGET_S
                ok &= hit
                print(f"{' '.join(query):<18} {size:>7} blocks  {median * 1000:7.1f} ms  "
                      f"(whole process {process_cpu(tree, query) * 1000:6.1f} ms cpu)  "
                      f"target <= {TARGET_S * 1000:.0f} ms  {'OK' if hit else 'MISSED'}")
            shutil.rmtree(tree)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
