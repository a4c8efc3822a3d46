"""pmemctl apply on a converged `big` machine vs pmemctl blocks --json.

Target (issue 10): `pmemctl apply` on a converged `big` tree (49,152 blocks)
takes at most 1.5 x `pmemctl blocks --json` on the same tree (runs
alternated, medians).  The layout is the one `pmemctl config init` writes
for the tree, so apply has every device to match and every block to check,
and must find nothing to do (exit 3).

Run: python3 bench/bench_apply.py [--blocks 49152] [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from common import PMEMCTL, alternate, big_tree, env, report

TARGET = 1.5


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--blocks", type=int, default=49152)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="keep the tree for the next run")
    args = ap.parse_args()
    tree = big_tree(args.blocks)
    print(f"big scenario: {args.blocks} blocks at {tree}")
    layout = tree.parent / f"{tree.name}-layout.toml"
    try:
        return _measure(tree, layout, args.runs)
    finally:
        layout.unlink(missing_ok=True)
        if not args.keep:  # a 49,152-block tree is about 1.7 GB of tmpfs
            shutil.rmtree(tree, ignore_errors=True)


def _measure(tree: Path, layout: Path, runs: int) -> int:
    subprocess.run([*PMEMCTL, "--sysroot", str(tree), "config", "init", "--output", str(layout), "--force"],
                   check=True, env=env(), stdout=subprocess.DEVNULL)
    apply = [*PMEMCTL, "--sysroot", str(tree), "apply", "--config", str(layout)]
    code = subprocess.run(apply, env=env(), stdout=subprocess.DEVNULL).returncode
    if code != 3:
        print(f"apply on the converged tree exited {code}, not 3 (converged)", file=sys.stderr)
        return 1
    # run_once wants exit 0: wrap apply so that its converged exit 3 counts as success
    wrapped = [sys.executable, "-c",
               "import subprocess, sys; sys.exit(0 if subprocess.run(sys.argv[1:]).returncode == 3 else 1)", *apply]
    wrapped_ref = [sys.executable, "-c", "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)",
                   *PMEMCTL, "--sysroot", str(tree), "blocks", "--json"]
    ours, ref = alternate(wrapped, wrapped_ref, runs)
    ok = report("apply (converged) vs blocks --json", ours, ref, TARGET)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
