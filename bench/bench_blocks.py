"""pmemctl blocks vs lsmem --sysroot on the `big` scenario; start-up; peak RSS.

Targets (issue "Foundation"):
  * `pmemctl blocks` and `pmemctl blocks --json` at most 0.8 x lsmem's wall time
    (same columns, runs alternated);
  * `pmemctl --version` at most 1.3 x `python3 -c "import click"`;
  * peak RSS of the big scan at most 60 MB.

Run: python3 bench/bench_blocks.py [--blocks 49152] [--runs 7]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from common import PMEMCTL, alternate, big_tree, peak_rss_mb, report

LSMEM_COLS = "RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES"
OUR_COLS = "range,size,state,removable,block,node,zone"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--blocks", type=int, default=49152)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--keep", action="store_true", help="keep the tree for the next run")
    args = ap.parse_args()
    lsmem = shutil.which("lsmem")
    if lsmem is None:
        print("lsmem not installed (Debian: util-linux); cannot compare", file=sys.stderr)
        return 2
    tree = big_tree(args.blocks)
    print(f"big scenario: {args.blocks} blocks at {tree}")
    try:
        return _measure(tree, lsmem, args.runs)
    finally:
        if not args.keep:  # a 49,152-block tree is about 1.7 GB of tmpfs
            shutil.rmtree(tree, ignore_errors=True)


def _measure(tree: Path, lsmem: str, runs: int) -> int:
    ok = True
    ours, ref = alternate(
        [*PMEMCTL, "--sysroot", str(tree), "blocks", "-o", OUR_COLS],
        [lsmem, "--sysroot", str(tree), "-o", LSMEM_COLS],
        runs,
    )
    ok &= report("blocks (table) vs lsmem", ours, ref, 0.8)
    ours, ref = alternate(
        [*PMEMCTL, "--sysroot", str(tree), "blocks", "-o", OUR_COLS, "--json"],
        [lsmem, "--sysroot", str(tree), "-J", "-o", LSMEM_COLS],
        runs,
    )
    ok &= report("blocks --json vs lsmem -J", ours, ref, 0.8)
    ours, ref = alternate([*PMEMCTL, "--version"], [sys.executable, "-c", "import click"], runs * 2)
    ok &= report("--version vs python3 -c 'import click'", ours, ref, 1.3)
    rss = peak_rss_mb([*PMEMCTL, "--sysroot", str(tree), "blocks", "--json"])
    ok_rss = rss <= 60
    ok &= ok_rss
    print(f"{'peak RSS of blocks --json on big':<44} {rss:8.1f} MiB  target <= 60 MiB  {'OK' if ok_rss else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
