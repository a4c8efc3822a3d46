"""``pmemctl blocks`` against ``lsmem --sysroot`` on the ``big`` scenario at
several sizes; start-up; peak RSS.

Targets (issues "Foundation" and 14), cpu time (user + system) of the child,
medians of runs alternated between the two sides, every row at every size
(8,192 / 49,152 / 196,608 blocks by default):
  * ``blocks`` and ``blocks --json`` at most 0.8x lsmem's (same columns);
  * ``blocks --all --json`` against ``lsmem -a -J`` (same columns): cpu at
    most 1.0x and peak RSS at most 1.2x at 196,608 blocks (the largest size;
    printed without a target at the others);
  * peak RSS of ``blocks --json`` at 49,152 blocks at most 60 MiB;
  * a growth exponent of at most 1.1 for each pmemctl path
    (bench/common.py growth_exponent), less the file system's share: the
    largest tree is on disk and the others on tmpfs, so lsmem's exponent
    (the same reads in C) above 1 is taken off;
  (start-up: bench/bench_startup.py)

pmemctl is the INSTALLED command: the tree under test (--repo, this
checkout by default) is pip-installed into a temporary virtual environment
(bench/installed.py).  Trees live on tmpfs below 100,000 blocks and on disk
(/var/tmp) above (about 30 files a block: more inodes than a usual /dev/shm
has); each is generated once per run and removed when its size is done,
and the temporary directories at exit.  Exit status 1 when a figure misses.

Run: python3 bench/bench_blocks.py [--sizes 8192,49152,196608] [--runs 5] [--repo DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(1, str(BENCH.parent))

from common import check, check_growth, cpu_run, growth_exponent, shm_dir  # noqa: E402
from installed import command_env, installed_command, remove_tree  # noqa: E402

from pmemctl.sim.build import materialise  # noqa: E402
from pmemctl.sim.scenario import load_scenario  # noqa: E402

LSMEM_COLS = "RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES"
OUR_COLS = "range,size,state,removable,block,node,zone"
#: block counts from which trees go to disk
DISK_FROM = 100_000


def alternate(a: list[str], b: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """Median cpu seconds of a and b, run a, b, a, b ... after one warm-up each."""
    cpu_run(a, env)
    cpu_run(b, env)
    ta, tb = [], []
    for _ in range(runs):
        ta.append(cpu_run(a, env))
        tb.append(cpu_run(b, env))
    return statistics.median(ta), statistics.median(tb)


def load() -> str:
    return "load %.1f" % os.getloadavg()[0]


def peak_rss(argv: list[str], env: dict[str, str]) -> float:
    """Peak RSS (MiB) of one run of ``argv`` in ``env``: the smallest of three
    (other processes' pressure only adds).  Measured by GNU time where it is
    installed: a child forked from a Python helper reports the helper's own
    RSS from before its exec (the kernel keeps the old mm's high-water mark)."""
    gnu_time = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)
    if gnu_time:
        def once() -> float:
            with tempfile.NamedTemporaryFile("r") as out:
                subprocess.run([gnu_time, "-f", "%M", "-o", out.name, *argv], check=True, env=env,
                               stdout=subprocess.DEVNULL)
                return int(out.read().split()[-1]) / 1024
    else:
        code = (
            "import resource, subprocess, sys\n"
            "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        )

        def once() -> float:
            return int(subprocess.run([sys.executable, "-c", code, *argv], check=True, capture_output=True,
                                      text=True, env=env).stdout.strip()) / 1024
    return min(once() for _ in range(3))


def bench_size(pmemctl: list[str], lsmem: str, root: Path, n: int, largest: bool, runs: int,
               env: dict[str, str], times: dict[str, list[float]]) -> bool:
    ok = True
    ours_cmd = [*pmemctl, "--sysroot", str(root), "blocks", "-o", OUR_COLS]
    ref_cmd = [lsmem, "--sysroot", str(root), "-o", LSMEM_COLS]
    pairs = (("blocks vs lsmem", [], []), ("blocks --json vs lsmem -J", ["--json"], ["-J"]))
    for label, ours_extra, ref_extra in pairs:
        ours, ref = alternate(ours_cmd + ours_extra, ref_cmd + ref_extra, env, runs)
        ok &= check(f"{label}, {n} blocks: cpu", ours / ref, 0.8, detail=f"{ours:.3f} s vs {ref:.3f} s, {load()}")
        times[label.split(" vs ")[0]].append(ours)
        times[label.split(" vs ")[1]].append(ref)
    ours_all = ours_cmd + ["--all", "--json"]
    ref_all = ref_cmd + ["-a", "-J"]
    ours, ref = alternate(ours_all, ref_all, env, runs)
    detail = f"{ours:.3f} s vs {ref:.3f} s, {load()}"
    name = f"blocks --all --json vs lsmem -a -J, {n} blocks: cpu"
    if largest:
        ok &= check(name, ours / ref, 1.0, detail=detail)
    else:
        print(f"{name:<58} {ours / ref:8.3f}x  (target at the largest size only)  ({detail})")
    times["blocks --all --json"].append(ours)
    times["lsmem -a -J"].append(ref)
    r_ours, r_ref = peak_rss(ours_all, env), peak_rss(ref_all, env)
    name = f"blocks --all --json vs lsmem -a -J, {n} blocks: peak RSS"
    detail = f"{r_ours:.0f} MiB vs {r_ref:.0f} MiB"
    if largest:
        ok &= check(name, r_ours / r_ref, 1.2, detail=detail)
    else:
        print(f"{name:<58} {r_ours / r_ref:8.3f}x  (target at the largest size only)  ({detail})")
    if n == 49152:
        rss = peak_rss([*pmemctl, "--sysroot", str(root), "blocks", "--json"], env)
        ok &= check(f"peak RSS of blocks --json, {n} blocks", rss, 60, unit=" MiB")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="8192,49152,196608", help="block counts, smallest first")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--repo", type=Path, default=BENCH.parent, help="source tree to install and measure")
    args = ap.parse_args()
    lsmem = shutil.which("lsmem")
    if lsmem is None:
        print("lsmem not installed (Debian: util-linux); cannot compare", file=sys.stderr)
        return 2
    sizes = [int(x) for x in args.sizes.split(",")]
    ok = True
    times: dict[str, list[float]] = {k: [] for k in ("blocks", "lsmem", "blocks --json", "lsmem -J",
                                                      "blocks --all --json", "lsmem -a -J")}
    disk = Path(tempfile.mkdtemp(prefix="pmemctl-bench-blocks-", dir="/var/tmp"))
    try:
        with installed_command(args.repo.resolve()) as command, shm_dir("pmemctl-bench-blocks-") as shm:
            env = command_env()
            pmemctl = [str(command)]
            for n in sizes:
                where = Path(shm) if n < DISK_FROM else disk
                print(f"-- {n} blocks: generating the tree in {where} ({load()})", flush=True)
                root = materialise(load_scenario("big", {"blocks": str(n)}), where / f"big-{n}")
                try:
                    ok &= bench_size(pmemctl, lsmem, root, n, n == max(sizes), args.runs, env, times)
                finally:
                    remove_tree(root)
            if len(sizes) >= 3:
                for name, ref in (("blocks", "lsmem"), ("blocks --json", "lsmem -J"),
                                  ("blocks --all --json", "lsmem -a -J")):
                    check_growth(name, sizes, times[name], limit=float("inf"))
                    check_growth(f"{ref} (the same reads in C)", sizes, times[ref], limit=float("inf"))
                    # the largest tree is on disk, the others on tmpfs: the file system's share of the
                    # growth is what lsmem's exponent shows above 1; the tool's own is the rest
                    k_fs = max(growth_exponent(sizes, times[ref]) - 1, 0.0)
                    ok &= check(f"growth exponent of {name}, less the file system's {k_fs:.2f}",
                                growth_exponent(sizes, times[name]) - k_fs, 1.1, unit=" ")
    finally:
        remove_tree(disk)
    print("all targets met" if ok else "MISSED: see the rows above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
