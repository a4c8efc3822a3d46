"""Start-up cost: ``pmemctl --version`` stays within 1.3 × ``import click``.

The structural test (what gets imported) is exact and fast; the timing test
compares best-of-N wall times of fresh interpreters, interleaved so that a
busy machine slows both sides alike.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
ENV.pop("PMEMCTL_SYSROOT", None)

HEAVY = (
    "rich",
    "pmemctl.ops",
    "pmemctl.model",
    "pmemctl.sysfs",
    "pmemctl.errors",
    "pmemctl.cli.commands",
    "importlib.metadata",
    "json",
)

_PROBE = """
import sys
from pmemctl.cli.main import main
try:
    main({args!r})
except SystemExit:
    pass
print(" ".join(sorted(sys.modules)), file=sys.stderr)
"""


def loaded_modules(args: list[str], cwd: Path = REPO) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(args=args)], env=ENV, cwd=cwd, capture_output=True, text=True, check=True
    )
    return set(proc.stderr.split())


def test_version_imports_nothing_heavy() -> None:
    mods = loaded_modules(["--version"])
    heavy = sorted(m for m in mods if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == [], f"pmemctl --version imported {heavy}"


def test_piped_blocks_does_not_import_rich() -> None:
    mods = loaded_modules(["blocks"])  # stdout is a pipe here
    assert "pmemctl.ops.blocks" in mods  # the blocks view ran (pmemctl/ops/blocks.py)
    assert not any(m == "rich" or m.startswith("rich.") for m in mods)


def _best(cmd: list[str], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=ENV, cwd=REPO, stdout=subprocess.DEVNULL, check=True)
        best = min(best, time.perf_counter() - t0)
    return best


def test_version_startup_ratio() -> None:
    click_cmd = [sys.executable, "-c", "import click"]
    pmemctl_cmd = [sys.executable, "-m", "pmemctl", "--version"]
    _best(pmemctl_cmd, 2)  # warm the byte-code cache
    base = pm = float("inf")
    for _ in range(12):
        base = min(base, _best(click_cmd, 1))
        pm = min(pm, _best(pmemctl_cmd, 1))
    ratio = pm / base
    print(f"import click {base * 1000:.1f} ms, pmemctl --version {pm * 1000:.1f} ms, ratio {ratio:.2f}")
    assert ratio <= 1.3, (
        f"pmemctl --version took {ratio:.2f} x import click ({pm * 1000:.1f} ms vs {base * 1000:.1f} ms)"
    )
