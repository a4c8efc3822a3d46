"""``pmemctl blocks`` against ``lsmem --sysroot`` on the ``big`` scenario at
several sizes; peak RSS.  (Start-up is bench/bench_startup.py.)

Targets (issues "Foundation" and 14), cpu time (user + system) of the child,
medians of runs alternated between the two sides:
  * ``blocks`` and ``blocks --json`` at most 0.8x lsmem's (same columns) at
    each size (8,192 / 49,152 / 196,608 blocks by default), and a growth
    exponent of at most 1.1 (bench/common.py growth_exponent);
  * peak RSS of ``blocks --json`` at 49,152 blocks at most 60 MiB.

pmemctl runs as ``python3 -m pmemctl`` from the source tree (--repo), or the
installed command with --installed.  Trees live in a temporary directory
(tmpfs below 100,000 blocks, disk above) and are removed at the end.

Run: python3 bench/bench_blocks.py [--sizes 8192,49152,196608] [--runs 5] [--installed]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(1, str(BENCH.parent))

from common import check, check_growth, cpu_run, peak_rss_mb, shm_dir, source_env  # noqa: E402

from pmemctl.sim.build import materialise  # noqa: E402
from pmemctl.sim.scenario import load_scenario  # noqa: E402

LSMEM_COLS = "RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES"
OUR_COLS = "range,size,state,removable,block,node,zone"


def alternate(a: list[str], b: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """Median cpu seconds of a and b, run a, b, a, b ... after one warm-up each."""
    cpu_run(a, env)
    cpu_run(b, env)
    ta, tb = [], []
    for _ in range(runs):
        ta.append(cpu_run(a, env))
        tb.append(cpu_run(b, env))
    return statistics.median(ta), statistics.median(tb)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="8192,49152,196608", help="block counts, smallest first")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--repo", type=Path, default=BENCH.parent, help="source tree to run pmemctl from")
    ap.add_argument("--installed", action="store_true", help="run the installed pmemctl command instead")
    args = ap.parse_args()
    lsmem = shutil.which("lsmem")
    if lsmem is None:
        print("lsmem not installed (Debian: util-linux); cannot compare", file=sys.stderr)
        return 2
    if args.installed:
        found = shutil.which("pmemctl")
        if found is None:
            print("pmemctl is not installed", file=sys.stderr)
            return 2
        pmemctl = [found]
    else:
        os.chdir(args.repo)  # ``python -m`` puts the working directory first on sys.path
        pmemctl = [sys.executable, "-m", "pmemctl"]
    env = source_env(args.repo)
    sizes = [int(x) for x in args.sizes.split(",")]
    ok = True
    disk = Path(tempfile.mkdtemp(prefix="pmemctl-bench-blocks-"))
    try:
        with shm_dir("pmemctl-bench-blocks-") as shm:
            table: list[float] = []
            as_json: list[float] = []
            lsmem_t: list[float] = []
            for n in sizes:
                where = Path(shm) if n < 100_000 else disk  # about 30 files a block: inodes
                root = materialise(load_scenario("big", {"blocks": str(n)}), where / f"big-{n}")
                ours, ref = alternate([*pmemctl, "--sysroot", str(root), "blocks", "-o", OUR_COLS],
                                      [lsmem, "--sysroot", str(root), "-o", LSMEM_COLS], env, args.runs)
                ok &= check(f"blocks vs lsmem, {n} blocks: cpu", ours / ref, 0.8, detail=f"{ours:.3f} s vs {ref:.3f} s")
                table.append(ours)
                lsmem_t.append(ref)
                ours, ref = alternate([*pmemctl, "--sysroot", str(root), "blocks", "-o", OUR_COLS, "--json"],
                                      [lsmem, "--sysroot", str(root), "-J", "-o", LSMEM_COLS], env, args.runs)
                ok &= check(f"blocks --json vs lsmem -J, {n} blocks: cpu", ours / ref, 0.8,
                            detail=f"{ours:.3f} s vs {ref:.3f} s")
                as_json.append(ours)
                if n == 49152:
                    rss = peak_rss_mb([*pmemctl, "--sysroot", str(root), "blocks", "--json"])
                    ok &= check(f"peak RSS of blocks --json, {n} blocks", rss, 60, unit=" MiB")
                shutil.rmtree(root)
            if len(sizes) >= 3:
                ok &= check_growth("blocks", sizes, table)
                ok &= check_growth("blocks --json", sizes, as_json)
                check_growth("lsmem (for comparison: the file system's share)", sizes, lsmem_t, limit=float("inf"))
    finally:
        shutil.rmtree(disk, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
