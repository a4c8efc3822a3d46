"""The paths bench_blocks.py and bench_online.py cannot see (issue 14).

  terminal  a change at a terminal (under ``pty.fork``) against the same change
            piped: ``online`` of every block of ``big`` (target <= 1.05x);
  views     ``topology`` and ``list`` on trees of several sizes, boot memory
            only, no kmem device: the largest against the smallest (target
            <= 1.2x: independent of the block count), and the growth
            exponent.  The simulator writes /proc/zoneinfo as a kernel does;
            the figure on a tree without it (a recording that left it out)
            is printed too, without a target;
  json      ``blocks --all --json`` against ``lsmem -a -J`` (same columns) at
            each size: cpu time (target <= 1.0x) and peak RSS (target
            <= 1.2x), and the growth exponent of both (target <= 1.1).

Every path is also fitted for its growth exponent (bench/common.py
growth_exponent: time above the smallest size's against the block count;
1 is linear) and flagged above 1.1.

Figures are cpu time (user + system) of the child, medians of runs
alternated between the two sides.  Trees live in a temporary directory on
tmpfs and are removed at the end.  Exit status 1 when a figure misses.

Run: python3 bench/bench_paths.py [--only terminal,views,json] [--repo DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Callable, Sequence

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(1, str(BENCH.parent))

from common import check, check_growth, cpu_run, shm_dir, source_env  # noqa: E402

from pmemctl.sim.build import materialise  # noqa: E402
from pmemctl.sim.scenario import scenario_from_toml  # noqa: E402

BLOCK = 128 << 20
LSMEM_COLS = "RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES"
OUR_COLS = "range,size,state,removable,block,node,zone"


def _big_text() -> str:
    return (resources.files("pmemctl.sim") / "scenarios" / "big.toml").read_text()


def big_tree(blocks: int, dest: Path, *, offline: bool = False) -> Path:
    """The ``big`` scenario; ``offline``: every hot-added block offline (onlining
    them all needs --force: the zone-ratio check refuses 3 TiB of Movable
    memory next to 16 GiB of kernel memory)."""
    text = _big_text()
    if offline:
        text = re.sub(r"memory = \[.*?\]\n", 'memory = [{ state = "offline" }]\n', text, flags=re.S)
    return materialise(scenario_from_toml("big", text, {"blocks": str(blocks)}), dest)


def boot_tree(blocks: int, dest: Path) -> Path:
    """``big`` with ``blocks`` blocks of boot memory on node 0 and two small
    devdax (not kmem) devices on node 1."""
    text = _big_text()
    end = 0x100000000 + (blocks - 16) * BLOCK - 1
    text = text.replace('"0x100000000-0x47fffffff"', f'"0x100000000-{end:#x}"')
    text = text[: text.index("[[hmem]]")] + "".join(
        f'[[hmem]]\nid = {i}\nstart = "{0x100000000000 + i * 64 * BLOCK:#x}"\nsize = "64 blocks"\n'
        'target_node = 1\ndriver = "device_dax"\n\n'
        for i in (0, 1)
    )
    return materialise(scenario_from_toml("big", text, {"blocks": str(blocks)}), dest)


def alternate_cpu(a: Callable[[], float], b: Callable[[], float], runs: int) -> tuple[float, float]:
    """Medians of a and b, run a, b, a, b ... after one warm-up each."""
    a()
    b()
    ta, tb = [], []
    for _ in range(runs):
        ta.append(a())
        tb.append(b())
    return statistics.median(ta), statistics.median(tb)


def pm(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pmemctl", "--sysroot", str(root), *args]


def peak_rss_mib(argv: Sequence[str], env: dict[str, str]) -> float:
    """Peak RSS (MiB) of one run, measured by a fresh helper process."""
    code = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, *argv], check=True, capture_output=True, text=True, env=env)
    return int(out.stdout.strip()) / 1024


# --------------------------------------------------------------------------


def bench_terminal(repo: Path, blocks: int, runs: int, tmp: Path) -> bool:
    pristine = big_tree(blocks, tmp / "terminal-pristine", offline=True)
    work = tmp / "terminal-work"

    def change(tty: bool) -> Callable[[], float]:
        def run() -> float:
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(pristine, work, symlinks=True)
            env = source_env(repo, tty=tty)
            return cpu_run(pm(work, "online", "dax1.0", "--yes", "--force"), env, tty=tty)
        return run

    tty, piped = alternate_cpu(change(True), change(False), runs)
    shutil.rmtree(work, ignore_errors=True)
    n = (blocks - 128) - (blocks - 128) // 2
    return check(f"online dax1.0 ({n} blocks of {blocks}): terminal vs piped", tty / piped, 1.05,
                 detail=f"terminal {tty:.2f} s, piped {piped:.2f} s cpu")


def bench_views(repo: Path, sizes: Sequence[int], runs: int, tmp: Path) -> bool:
    ok = True
    env = source_env(repo)
    trees = {n: boot_tree(n, tree_dir(tmp, n) / f"views-{n}") for n in sizes}
    for n, root in trees.items():
        if os.stat(root / "sys/devices/system/memory").st_nlink < 2:
            # ext4 stops counting subdirectories past 65,000 (the link count reads 1);
            # sysfs and tmpfs always count them, which the views rely on
            print(f"note: the {n}-block tree's file system does not count subdirectories: "
                  "topology falls back to listing the node directories there (not so on sysfs)")
    small, large = sizes[0], sizes[-1]
    for label, zoneinfo in (("", True), (", without /proc/zoneinfo", False)):
        if not zoneinfo:
            for root in trees.values():
                (root / "proc" / "zoneinfo").unlink()
        for view in ("topology", "list"):
            for extra in ((), ("--json",)):
                args = (view, *extra)
                times = {}
                for n in sizes[1:]:
                    lo, hi = alternate_cpu(lambda a=args: cpu_run(pm(trees[small], *a), env),  # type: ignore[misc]
                                           lambda a=args, n=n: cpu_run(pm(trees[n], *a), env), runs)  # type: ignore[misc]
                    times[small] = min(times.get(small, lo), lo)
                    times[n] = hi
                name = f"{' '.join(args)} {large} vs {small} blocks{label}"
                detail = f"{times[large] * 1000:.0f} ms vs {times[small] * 1000:.0f} ms"
                if zoneinfo or view == "list":
                    ok &= check(name, times[large] / times[small], 1.2, detail=detail)
                    ok &= check_growth(f"{' '.join(args)}{label}", sizes, [times[n] for n in sizes])
                else:
                    print(f"{name:<58} {times[large] / times[small]:8.3f}x  (no target: needs zoneinfo)  ({detail})")
    for root in trees.values():
        shutil.rmtree(root)
    return ok


def tree_dir(tmp: Path, blocks: int) -> Path:
    """Where a tree of ``blocks`` blocks goes: tmpfs, or (from 100,000 blocks:
    about 30 files each, more inodes than a usual /dev/shm has) a temporary
    directory under the system's temporary directory, removed at exit."""
    if blocks < 100_000:
        return tmp
    disk = Path(tempfile.gettempdir()) / f"{tmp.name}-disk"
    disk.mkdir(exist_ok=True)
    _DISK_DIRS.add(disk)
    return disk


_DISK_DIRS: set[Path] = set()


def bench_json(repo: Path, sizes: Sequence[int], runs: int, tmp: Path) -> bool:
    lsmem = shutil.which("lsmem")
    if lsmem is None:
        print("lsmem not installed (Debian: util-linux); cannot compare", file=sys.stderr)
        return False
    ok = True
    env = source_env(repo)
    ours_t: list[float] = []
    ref_t: list[float] = []
    for n in sizes:
        root = big_tree(n, tree_dir(tmp, n) / f"json-{n}")
        ours = pm(root, "blocks", "--all", "--json", "-o", OUR_COLS)
        ref = [lsmem, "--sysroot", str(root), "-a", "-J", "-o", LSMEM_COLS]
        t_ours, t_ref = alternate_cpu(lambda o=ours: cpu_run(o, env), lambda r=ref: cpu_run(r, env), runs)  # type: ignore[misc]
        ok &= check(f"blocks --all --json vs lsmem -a -J, {n} blocks: cpu", t_ours / t_ref, 1.0,
                    detail=f"{t_ours:.3f} s vs {t_ref:.3f} s")
        r_ours, r_ref = peak_rss_mib(ours, env), peak_rss_mib(ref, env)
        ok &= check(f"blocks --all --json vs lsmem -a -J, {n} blocks: peak RSS", r_ours / r_ref, 1.2,
                    detail=f"{r_ours:.0f} MiB vs {r_ref:.0f} MiB")
        ours_t.append(t_ours)
        ref_t.append(t_ref)
        shutil.rmtree(root)
    if len(sizes) >= 3:
        ok &= check_growth("blocks --all --json", sizes, ours_t)
        check_growth("lsmem -a -J (for comparison)", sizes, ref_t, limit=float("inf"))
    return ok


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="terminal,views,json")
    ap.add_argument("--repo", type=Path, default=BENCH.parent, help="source tree to run pmemctl from")
    ap.add_argument("--blocks", type=int, default=49152, help="size of the terminal benchmark")
    ap.add_argument("--views", default="1024,8192,49152,196608",
                    help="sizes of the views benchmark, smallest first (196608 goes to disk: 6 M inodes)")
    ap.add_argument("--json-sizes", default="8192,49152,196608",
                    help="sizes of the json benchmark, smallest first")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    only = set(args.only.split(","))
    # ``python -m`` puts the working directory first on sys.path: run from the
    # source tree measured, so --repo is what runs
    os.chdir(args.repo)
    ok = True
    with shm_dir("pmemctl-bench-paths-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            if "terminal" in only:
                ok &= bench_terminal(args.repo, args.blocks, max(1, args.runs - 1), tmp)
            if "views" in only:
                ok &= bench_views(args.repo, [int(x) for x in args.views.split(",")], args.runs + 2, tmp)
            if "json" in only:
                ok &= bench_json(args.repo, [int(x) for x in args.json_sizes.split(",")], args.runs, tmp)
        finally:
            for disk in _DISK_DIRS:
                shutil.rmtree(disk, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
