"""The paths bench_blocks.py and bench_online.py cannot see (issue 14).

  terminal  a change at a terminal (under ``pty.fork``) against the same change
            piped: ``online`` of every block of ``big`` (target <= 1.05x);
  views     ``topology`` and ``list`` on a tree of N1 blocks against the same
            on N2 blocks, boot memory only, no kmem device (target <= 1.2x:
            independent of the block count).  The simulator writes no
            /proc/zoneinfo; a kernel always does, so the trees get one that
            agrees with their blocks (the figure without it is printed too);
  json      ``blocks --all --json`` against ``lsmem -a -J`` (same columns):
            cpu time (target <= 1.0x) and peak RSS (target <= 1.2x).

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
from importlib import resources
from pathlib import Path
from typing import Callable, Sequence

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(1, str(BENCH.parent))

from common import check, cpu_run, shm_dir, source_env  # noqa: E402

from pmemctl.model.discover import discover  # noqa: E402
from pmemctl.sim.build import materialise  # noqa: E402
from pmemctl.sim.scenario import scenario_from_toml  # noqa: E402
from pmemctl.sysfs.door import SysfsRoot  # noqa: E402

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


def write_zoneinfo(root: Path) -> None:
    """/proc/zoneinfo as the kernel would write it for this tree's online blocks
    (a block spanning zones: 16 MiB of DMA, the rest less a 1 MiB hole DMA32)."""
    full = discover(SysfsRoot(str(root)))
    page = os.sysconf("SC_PAGE_SIZE")
    present: dict[int, dict[str, int]] = {n.id: {} for n in full.nodes}
    for b in full.blocks:
        if b.online and b.node is not None:
            zones = present[b.node]
            if b.zones:
                zones[b.zones[0]] = zones.get(b.zones[0], 0) + BLOCK
            else:
                zones["DMA"] = zones.get("DMA", 0) + (16 << 20)
                zones["DMA32"] = zones.get("DMA32", 0) + BLOCK - (17 << 20)
    lines = []
    for nid, zones in present.items():
        for zone in ("DMA", "DMA32", "Normal", "Movable"):
            pages = zones.get(zone, 0) // page
            lines += [f"Node {nid}, zone {zone:>8}", f"  pages free     {pages // 2}",
                      f"        spanned  {pages}", f"        present  {pages}", f"        managed  {pages}"]
    (root / "proc" / "zoneinfo").write_text("\n".join(lines) + "\n")


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


def bench_views(repo: Path, small: int, large: int, runs: int, tmp: Path) -> bool:
    ok = True
    env = source_env(repo)
    trees = {n: boot_tree(n, tmp / f"views-{n}") for n in (small, large)}
    for label, zoneinfo in (("without /proc/zoneinfo (simulator as is)", False), ("with /proc/zoneinfo", True)):
        if zoneinfo:
            for root in trees.values():
                write_zoneinfo(root)
        for view in ("topology", "list"):
            for extra in ((), ("--json",)):
                args = (view, *extra)
                lo, hi = alternate_cpu(lambda a=args: cpu_run(pm(trees[small], *a), env),  # type: ignore[misc]
                                       lambda a=args: cpu_run(pm(trees[large], *a), env), runs)  # type: ignore[misc]
                name = f"{' '.join(args)} {large} vs {small} blocks, {label}"
                detail = f"{hi * 1000:.0f} ms vs {lo * 1000:.0f} ms"
                if zoneinfo or view == "list":
                    ok &= check(name, hi / lo, 1.2, detail=detail)
                else:
                    print(f"{name:<58} {hi / lo:8.3f}x  (no target: needs zoneinfo)  ({detail})")
    return ok


def bench_json(repo: Path, sizes: Sequence[int], runs: int, tmp: Path) -> bool:
    lsmem = shutil.which("lsmem")
    if lsmem is None:
        print("lsmem not installed (Debian: util-linux); cannot compare", file=sys.stderr)
        return False
    ok = True
    env = source_env(repo)
    for n in sizes:
        root = big_tree(n, tmp / f"json-{n}")
        ours = pm(root, "blocks", "--all", "--json", "-o", OUR_COLS)
        ref = [lsmem, "--sysroot", str(root), "-a", "-J", "-o", LSMEM_COLS]
        t_ours, t_ref = alternate_cpu(lambda o=ours: cpu_run(o, env), lambda r=ref: cpu_run(r, env), runs)  # type: ignore[misc]
        ok &= check(f"blocks --all --json vs lsmem -a -J, {n} blocks: cpu", t_ours / t_ref, 1.0,
                    detail=f"{t_ours:.3f} s vs {t_ref:.3f} s")
        r_ours, r_ref = peak_rss_mib(ours, env), peak_rss_mib(ref, env)
        ok &= check(f"blocks --all --json vs lsmem -a -J, {n} blocks: peak RSS", r_ours / r_ref, 1.2,
                    detail=f"{r_ours:.0f} MiB vs {r_ref:.0f} MiB")
        shutil.rmtree(root)
    return ok


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="terminal,views,json")
    ap.add_argument("--repo", type=Path, default=BENCH.parent, help="source tree to run pmemctl from")
    ap.add_argument("--blocks", type=int, default=49152, help="size of the terminal benchmark")
    ap.add_argument("--views", default="1024,49152", help="the two sizes of the views benchmark")
    ap.add_argument("--json-sizes", default="49152",
                    help="sizes of the json benchmark (196608 needs about 6 M free inodes on /dev/shm)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    only = set(args.only.split(","))
    # ``python -m`` puts the working directory first on sys.path: run from the
    # source tree measured, so --repo is what runs
    os.chdir(args.repo)
    ok = True
    with shm_dir("pmemctl-bench-paths-") as tmp_name:
        tmp = Path(tmp_name)
        if "terminal" in only:
            ok &= bench_terminal(args.repo, args.blocks, max(1, args.runs - 1), tmp)
        if "views" in only:
            small, large = (int(x) for x in args.views.split(","))
            ok &= bench_views(args.repo, small, large, args.runs + 2, tmp)
        if "json" in only:
            ok &= bench_json(args.repo, [int(x) for x in args.json_sizes.split(",")], args.runs, tmp)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
