"""The paths bench_blocks.py and bench_online.py cannot see (issue 14).

  terminal  a change at a terminal (under ``pty.fork``) against the same change
            piped: ``online`` of every block of ``big`` (target <= 1.05x);
  views     ``topology`` and ``list`` on trees of several sizes, boot memory
            only, no kmem device: the largest against the smallest (target
            <= 1.2x: independent of the block count), and the growth
            exponent.  The simulator writes /proc/zoneinfo as a kernel does;
            the figure on a tree without it (a recording that left it out)
            is printed too, without a target.  The 196,608-block tree is on
            disk (ext4 stops counting subdirectories in a directory's link
            count past 65,000: the views must not depend on it; they count
            boot memory's blocks from /proc/iomem there).

``blocks --all --json`` against ``lsmem -a -J`` is in bench_blocks.py, which
generates the big trees once for every ``blocks`` row.

Every path is also fitted for its growth exponent (bench/common.py
growth_exponent: time above the smallest size's against the block count;
1 is linear) and flagged above 1.1.

pmemctl is the INSTALLED command: the tree under test (--repo, this
checkout by default) is pip-installed into a temporary virtual environment
(bench/installed.py).  Figures are cpu time (user + system) of the child,
medians of runs alternated between the two sides.  Trees live on tmpfs below
100,000 blocks and on disk (/var/tmp) above, and are removed at the end.
Exit status 1 when a figure misses.

Run: python3 bench/bench_paths.py [--only terminal,views] [--repo DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Callable, Sequence

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(1, str(BENCH.parent))

from common import check, check_growth, cpu_run, shm_dir  # noqa: E402
from installed import command_env, installed_command, remove_tree  # noqa: E402

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
    devdax (not kmem) devices on node 1, placed above the boot memory (at
    196,608 blocks it reaches past 16 TiB)."""
    text = _big_text()
    end = 0x100000000 + (blocks - 16) * BLOCK - 1
    base = max(0x100000000000, -(-(end + 1) // (1 << 40)) << 40)
    text = text.replace('"0x100000000-0x47fffffff"', f'"0x100000000-{end:#x}"')
    text = text[: text.index("[[hmem]]")] + "".join(
        f'[[hmem]]\nid = {i}\nstart = "{base + i * 64 * BLOCK:#x}"\nsize = "64 blocks"\n'
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


#: the installed command (set by main)
COMMAND: list[str] = []


def pm(root: Path, *args: str) -> list[str]:
    return [*COMMAND, "--sysroot", str(root), *args]


def run_env(*, tty: bool = False) -> dict[str, str]:
    """The installed command's environment; a terminal run keeps colour and progress."""
    env = command_env()
    if tty:
        env.pop("NO_COLOR", None)
        env.setdefault("TERM", "xterm-256color")
    return env


# --------------------------------------------------------------------------


def bench_terminal(blocks: int, runs: int, tmp: Path) -> bool:
    pristine = big_tree(blocks, tmp / "terminal-pristine", offline=True)
    work = tmp / "terminal-work"

    def change(tty: bool) -> Callable[[], float]:
        def run() -> float:
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(pristine, work, symlinks=True)
            env = run_env(tty=tty)
            return cpu_run(pm(work, "online", "dax1.0", "--yes", "--force"), env, tty=tty)
        return run

    tty, piped = alternate_cpu(change(True), change(False), runs)
    shutil.rmtree(work, ignore_errors=True)
    n = (blocks - 128) - (blocks - 128) // 2
    return check(f"online dax1.0 ({n} blocks of {blocks}): terminal vs piped", tty / piped, 1.05,
                 detail=f"terminal {tty:.2f} s, piped {piped:.2f} s cpu")


def bench_views(sizes: Sequence[int], runs: int, tmp: Path) -> bool:
    ok = True
    env = run_env()
    trees = {n: boot_tree(n, tree_dir(tmp, n) / f"views-{n}") for n in sizes}
    for n, root in trees.items():
        if os.stat(root / "sys/devices/system/memory").st_nlink < 2:
            # ext4 stops counting subdirectories past 65,000 (the link count reads 1);
            # sysfs and tmpfs always count them, which the views rely on
            print(f"note: the {n}-block tree's file system does not count subdirectories: "
                  "topology counts the boot blocks from /proc/iomem there (sysfs counts them)")
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
        remove_tree(root)
    return ok


def tree_dir(tmp: Path, blocks: int) -> Path:
    """Where a tree of ``blocks`` blocks goes: tmpfs, or (from 100,000 blocks:
    about 30 files each, more inodes than a usual /dev/shm has) a temporary
    directory under /var/tmp, on disk, removed at exit."""
    if blocks < 100_000:
        return tmp
    if not _DISK_DIRS:
        _DISK_DIRS.append(Path(tempfile.mkdtemp(prefix="pmemctl-bench-paths-", dir="/var/tmp")))
    return _DISK_DIRS[0]


_DISK_DIRS: list[Path] = []


def main() -> int:
    global COMMAND
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="terminal,views")
    ap.add_argument("--repo", type=Path, default=BENCH.parent, help="source tree to install and measure")
    ap.add_argument("--blocks", type=int, default=49152, help="size of the terminal benchmark")
    ap.add_argument("--views", default="1024,8192,49152,196608",
                    help="sizes of the views benchmark, smallest first (196608 goes to disk: 6 M inodes)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    only = set(args.only.split(","))
    unknown = only - {"terminal", "views"}
    if unknown:
        print(f"unknown part {sorted(unknown)[0]!r} (blocks --all --json is in bench_blocks.py)", file=sys.stderr)
        return 2
    ok = True
    try:
        with installed_command(args.repo.resolve()) as command, shm_dir("pmemctl-bench-paths-") as tmp_name:
            COMMAND = [str(command)]
            tmp = Path(tmp_name)
            print(f"load average {os.getloadavg()[0]:.1f} at the start", flush=True)
            if "terminal" in only:
                ok &= bench_terminal(args.blocks, max(1, args.runs - 1), tmp)
            if "views" in only:
                ok &= bench_views([int(x) for x in args.views.split(",")], args.runs + 2, tmp)
            print(f"load average {os.getloadavg()[0]:.1f} at the end")
    finally:
        for disk in _DISK_DIRS:
            remove_tree(disk)
    print("all targets met" if ok else "MISSED: see the rows above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
