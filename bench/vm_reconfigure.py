"""pmemctl reconfigure against daxctl reconfigure-device, on a real kernel.

Boots the real-kernel tier's guest (tests/vm/harness.py: Debian 6.1 under
QEMU/TCG, one 4 GiB NVDIMM on memory-only node 1), makes dax0.0 a devdax
device, then alternates, RUNS times each (after one warm-up of each):

    pmemctl reconfigure dax0.0 --mode system-ram --yes
    daxctl reconfigure-device --mode=system-ram dax0.0

going back to devdax between runs (not timed) with
``daxctl reconfigure-device --mode=devdax dax0.0``.  Both online the 30
blocks (memory33-62, 3.75 GiB) into ZONE_MOVABLE.  Wall times are taken in
the guest (``date +%s%N`` around each command); every converted run is
checked (30 blocks online).  Also timed, to split pmemctl's figure: the
bare interpreter (``python -c pass``, and ``-S`` without site-packages'
.pth hooks) and ``pmemctl --version`` (start-up and import of the CLI).
``--profile`` adds one cProfile'd run, ``-X importtime`` and ``strace -c``.

Target (issue, "Performance"): pmemctl at most 1.2x daxctl (median).
Under TCG the bare interpreter (``python3 -c pass``) already takes about
twice daxctl's whole run, so the script also prints that floor.  Byte code
is cached on the guest's tmpfs (tests/vm/harness.py), as an installed
package has it compiled.

Run: python3 bench/vm_reconfigure.py [--runs 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.vm import harness  # noqa: E402
from tests.vm.harness import GiB, NvdimmSpec  # noqa: E402

TARGET = 1.2

GUEST_SCRIPT = r"""
mount -t tmpfs -o mode=0755 tmpfs /var/lib   # pmemctl's journal; the host root is read-only
OUT="$VMIO/bench.jsonl"
now() { date +%s%N; }
timed() {  # timed LABEL CMD...: one JSON line {label, seconds, rc}
    _l=$1; shift
    _s=$(now); "$@" > /tmp/out.txt 2> /tmp/err.txt; _rc=$?; _e=$(now)
    _on=$(cat /sys/devices/system/memory/memory3[3-9]/state /sys/devices/system/memory/memory[4-5][0-9]/state \
          /sys/devices/system/memory/memory6[0-2]/state 2>/dev/null | grep -c '^online$')
    echo "{\"label\": \"$_l\", \"ns\": $((_e - _s)), \"rc\": $_rc, \"online\": $_on}" >> "$OUT"
    [ $_rc -eq 0 ] || { echo "$_l failed rc=$_rc"; cat /tmp/err.txt; }
}
back() {
    daxctl reconfigure-device --mode=devdax dax0.0 > /dev/null 2>&1 \
        || daxctl reconfigure-device --mode=devdax -f dax0.0 > /dev/null 2>&1
}
ndctl create-namespace -f -e namespace0.0 -m devdax --align 2M > /dev/null || exit 3
for i in $(seq 0 "$RUNS"); do
    tag=run; [ "$i" -eq 0 ] && tag=warmup
    timed "$tag-python" "$PYTHON" -c pass
    timed "$tag-python-nosite" "$PYTHON" -S -c pass
    timed "$tag-pmemctl-version" "$PYTHON" -m pmemctl --version
    if [ $((i % 2)) -eq 0 ]; then
        timed "$tag-pmemctl" "$PYTHON" -m pmemctl reconfigure dax0.0 --mode system-ram --yes
        back
        timed "$tag-daxctl" daxctl reconfigure-device --mode=system-ram dax0.0
        back
    else
        timed "$tag-daxctl" daxctl reconfigure-device --mode=system-ram dax0.0
        back
        timed "$tag-pmemctl" "$PYTHON" -m pmemctl reconfigure dax0.0 --mode system-ram --yes
        back
    fi
done
if [ "${PROFILE:-0}" = 1 ]; then  # where pmemctl's time goes: one more run, profiled
    "$PYTHON" -X importtime -m cProfile -o "$VMIO/reconfigure.prof" -m pmemctl \
        reconfigure dax0.0 --mode system-ram --yes > /dev/null 2> "$VMIO/importtime.txt"
    back
    strace -f -c -o "$VMIO/syscalls.txt" "$PYTHON" -m pmemctl reconfigure dax0.0 --mode system-ram --yes \
        > /dev/null 2>&1
    back
fi
exit 0
"""


def _print_profile(io: Path) -> None:
    import pstats

    prof = io / "reconfigure.prof"
    if prof.exists():
        print("--- one pmemctl run in the guest, cProfile, top 25 by cumulative time")
        pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(25)
    imp = io / "importtime.txt"
    if imp.exists():
        rows = []
        for line in imp.read_text().splitlines():
            parts = line.split("|")
            if line.startswith("import time:") and len(parts) == 3 and parts[1].strip().isdigit():
                rows.append((int(parts[1]), parts[2].rstrip()))
        print("--- -X importtime: top 15 cumulative imports (us)")
        for us, name in sorted(rows, reverse=True)[:15]:
            print(f"{us:>10}  {name}")
    sc = io / "syscalls.txt"
    if sc.exists():
        print("--- strace -c of one pmemctl run")
        print("\n".join(sc.read_text().splitlines()[:22]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="timed runs of each tool (after one warm-up)")
    ap.add_argument("--keep", metavar="DIR", help="keep the guest's results share in DIR")
    ap.add_argument("--profile", action="store_true",
                    help="also profile one pmemctl run (cProfile, -X importtime, strace -c) and print the top")
    args = ap.parse_args(argv)
    ok, reason = harness.vm_available()
    if not ok:
        print(f"cannot boot a guest here: {reason}")
        return 2
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="vm-bench-"))
    try:
        res = harness.run_guest(
            GUEST_SCRIPT, nvdimms=[NvdimmSpec(size=4 * GiB, node=1)], timeout=1800,
            env={"RUNS": str(args.runs), "PROFILE": "1" if args.profile else "0"}, results_dir=work / "io",
        )
        if res.exit_code != 0:
            print(res.describe())
            return 1
        rows = [json.loads(line) for line in res.files.get("bench.jsonl", b"").decode().splitlines()]
        if args.profile:
            _print_profile(work / "io")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if res.stdout.strip():
        print(res.stdout.strip())
    bad = [r for r in rows if r["rc"] != 0 or (r["label"].endswith(("pmemctl", "daxctl")) and r["online"] != 30)]
    if bad:
        print(f"runs that failed or did not online all 30 blocks: {bad}")
        return 1
    times: dict[str, list[float]] = {}
    for r in rows:
        if r["label"].startswith("run-"):
            times.setdefault(r["label"][4:], []).append(r["ns"] / 1e9)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"guest: Debian {harness.prepare().kernel_version} under QEMU/TCG, {args.runs} runs each, "
          f"alternating; wall {res.wall_seconds:.0f} s")
    for k in ("pmemctl", "daxctl", "pmemctl-version", "python", "python-nosite"):
        v = times[k]
        print(f"  {k:<16} median {med[k]:6.2f} s   min {min(v):6.2f}  max {max(v):6.2f}  "
              f"runs {' '.join(f'{x:.2f}' for x in v)}")
    ratio = med["pmemctl"] / med["daxctl"]
    start = med["pmemctl-version"]
    work_ratio = (med["pmemctl"] - start) / med["daxctl"]
    print(f"  ratio pmemctl/daxctl            {ratio:5.2f}  (target <= {TARGET:.1f}: "
          f"{'OK' if ratio <= TARGET else 'MISSED'})")
    print(f"  start-up (pmemctl --version)    {start:5.2f} s, of which the interpreter {med['python']:.2f} s "
          f"({med['python-nosite']:.2f} s of it without site/.pth processing)")
    print(f"  ratio without pmemctl start-up  {work_ratio:5.2f}")
    # The floor any CPython tool has here: the interpreter alone against
    # daxctl's whole run (its own start-up, the writes and the kernel's work)
    print(f"  floor: python3 -c pass / daxctl {med['python'] / med['daxctl']:5.2f}  "
          f"(-S: {med['python-nosite'] / med['daxctl']:.2f})")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
