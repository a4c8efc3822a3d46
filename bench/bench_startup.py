"""Start-up: ``pmemctl`` against ``python3 -c "import click"`` (issue 14).

Targets, cpu time (user + system) of the child, medians of runs alternated
between the two sides after one warm-up each:
  * ``pmemctl --sysroot TINY list`` (the qemu-nvdimm scenario, piped) at most
    1.3x ``python3 -c "import click"``;
  * ``pmemctl --version`` and ``pmemctl --help`` likewise.

What runs is an installed pmemctl, never the source tree with its missing
byte-code cache (``PYTHONDONTWRITEBYTECODE`` would make every run compile
every module):
  * by default, the package of --repo copied into a temporary directory and
    byte-compiled, as ``pip install`` leaves it, run through a console
    script like the one pip writes, by this interpreter;
  * with --installed, the ``pmemctl`` command on PATH (a pyenv shim is
    resolved with ``pyenv which``), and ``import click`` by the interpreter
    its first line names.
Both sides run the same interpreter binary, so the launcher costs alike.
The tree and the copy are removed at the end.  The load average is printed
with the figures: on a busy machine both sides slow down, not always alike.

Run: python3 bench/bench_startup.py [--runs 21] [--installed] [--repo DIR]
Exit status 1 when a figure misses its target.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(1, str(BENCH.parent))

from common import check, cpu_run, shm_dir  # noqa: E402

TARGET = 1.3

#: what pip writes as the pmemctl console script (project.scripts in pyproject.toml)
CONSOLE_SCRIPT = """\
import sys
from pmemctl.cli.entry import main
if __name__ == "__main__":
    sys.exit(main())
"""


def alternate(a: Sequence[str], b: Sequence[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """Median cpu seconds of a and b, run a, b, a, b ... after one warm-up each."""
    cpu_run(a, env)
    cpu_run(b, env)
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(runs):
        ta.append(cpu_run(a, env))
        tb.append(cpu_run(b, env))
    return statistics.median(ta), statistics.median(tb)


def _bench_env(pythonpath: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PMEMCTL_SYSROOT", None)
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    env["NO_COLOR"] = "1"
    return env


def install_copy(repo: Path, where: Path) -> list[str]:
    """The package of ``repo`` in ``where``, byte-compiled, and the command
    line of its console script."""
    shutil.copytree(repo / "pmemctl", where / "pmemctl",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "contrib"))
    if not compileall.compile_dir(str(where / "pmemctl"), quiet=1):
        raise RuntimeError(f"byte-compiling {where / 'pmemctl'} failed")
    script = where / "pmemctl-script"
    script.write_text(CONSOLE_SCRIPT)
    return [sys.executable, str(script)]


def installed_command() -> tuple[list[str], str]:
    """The pmemctl on PATH as [interpreter, script], and that interpreter."""
    found = shutil.which("pmemctl")
    if found is None:
        raise SystemExit("pmemctl is not installed")
    path = Path(found)
    first = path.read_bytes().split(b"\n", 1)[0].decode(errors="replace")
    if "python" not in first and shutil.which("pyenv"):  # a pyenv shim: a shell script
        path = Path(subprocess.run(["pyenv", "which", "pmemctl"], capture_output=True, text=True,
                                   check=True).stdout.strip())
        first = path.read_bytes().split(b"\n", 1)[0].decode(errors="replace")
    if not first.startswith("#!") or "python" not in first:
        raise SystemExit(f"{path} is not a Python console script ({first!r})")
    interpreter = first[2:].strip().split()[0]
    return [interpreter, str(path)], interpreter


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--repo", type=Path, default=BENCH.parent, help="source tree whose package is copied")
    ap.add_argument("--installed", action="store_true", help="run the pmemctl command on PATH instead")
    args = ap.parse_args()
    from pmemctl.sim.build import materialise
    from pmemctl.sim.scenario import load_scenario

    copy_dir = Path(tempfile.mkdtemp(prefix="pmemctl-bench-startup-"))
    ok = True
    try:
        if args.installed:
            pmemctl, interpreter = installed_command()
            env = _bench_env(None)
            _warn_without_bytecode(interpreter, env)
        else:
            pmemctl, interpreter = install_copy(args.repo, copy_dir), sys.executable
            env = _bench_env(str(copy_dir))
        click = [interpreter, "-c", "import click"]
        print(f"pmemctl: {' '.join(pmemctl)}   load average before: {_load()}")
        with shm_dir("pmemctl-bench-startup-") as shm:
            tiny = materialise(load_scenario("qemu-nvdimm"), Path(shm) / "tiny")
            for name, argv in (("list (tiny tree, piped)", ["--sysroot", str(tiny), "list"]),
                               ("--version", ["--version"]),
                               ("--help", ["--help"])):
                ours, ref = alternate([*pmemctl, *argv], click, env, args.runs)
                ok &= check(f"{name} vs python3 -c 'import click': cpu", ours / ref, TARGET,
                            detail=f"{ours * 1000:.1f} ms vs {ref * 1000:.1f} ms, load {_load()}")
    finally:
        shutil.rmtree(copy_dir, ignore_errors=True)
    return 0 if ok else 1


def _warn_without_bytecode(interpreter: str, env: dict[str, str]) -> None:
    """Say so when the installed package has no byte-code cache and none will
    be written: every run then compiles pmemctl (an editable install under
    PYTHONDONTWRITEBYTECODE=1), which is no user's start-up."""
    where = subprocess.run([interpreter, "-c", "import os, pmemctl; print(os.path.dirname(pmemctl.__file__))"],
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    cached = list(Path(where, "cli", "__pycache__").glob("main.*.pyc"))
    if not cached and env.get("PYTHONDONTWRITEBYTECODE"):
        print(f"note: {where} has no byte-code cache and PYTHONDONTWRITEBYTECODE is set: every run compiles "
              "pmemctl's modules, so these figures are not a user's start-up (run without --installed)")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
