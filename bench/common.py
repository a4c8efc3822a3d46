"""Shared helpers for the benchmarks: alternate runs, medians, peak RSS."""

from __future__ import annotations

import os
import pty
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parent.parent
PMEMCTL = [sys.executable, "-m", "pmemctl"]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    e["NO_COLOR"] = "1"
    e.pop("PMEMCTL_SYSROOT", None)
    return e


def run_once(argv: Sequence[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env())
    return time.perf_counter() - t0


def alternate(a: Sequence[str], b: Sequence[str], runs: int) -> tuple[float, float]:
    """Median wall time of a and b, runs interleaved a, b, a, b ... after one warm-up each."""
    run_once(a)
    run_once(b)
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(runs):
        ta.append(run_once(a))
        tb.append(run_once(b))
    return statistics.median(ta), statistics.median(tb)


def peak_rss_mb(argv: Sequence[str]) -> float:
    """Peak RSS (MiB) of one child process, measured by a fresh helper process."""
    code = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, *argv], check=True, capture_output=True, text=True, env=env())
    return int(out.stdout.strip()) / 1024


def big_tree(blocks: int) -> Path:
    """Materialise (once, cached in /tmp) the `big` scenario with ``blocks`` blocks."""
    # sysfs lives in memory: so does the benchmark tree, where tmpfs exists
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
    cache = Path(base) / f"pmemctl-bench-big-{blocks}"
    if not (cache / ".pmemctl-sim").exists():
        subprocess.run(
            [*PMEMCTL, "sim", "create", str(cache), "--scenario", "big", "--set", f"blocks={blocks}", "--force"],
            check=True, env=env(), stdout=subprocess.DEVNULL,
        )
    return cache


def report(name: str, ours: float, ref: float, target: float, unit: str = "s") -> bool:
    ratio = ours / ref if ref else float("inf")
    ok = ratio <= target
    print(f"{name:<44} pmemctl {ours:8.4f}{unit}  reference {ref:8.4f}{unit}  ratio {ratio:5.2f}  "
          f"target <= {target:.2f}  {'OK' if ok else 'MISSED'}")
    return ok

_ = resource  # resource is used by the child snippet; imported here to fail early where missing


# --------------------------------------------------------------------------
# cpu time, terminals and trees that clean up after themselves (issue 14)


def source_env(repo: Path, *, tty: bool = False) -> dict[str, str]:
    """The environment for running ``python -m pmemctl`` from ``repo``;
    a terminal run keeps colour and progress (no NO_COLOR)."""
    e = dict(os.environ)
    e["PYTHONPATH"] = str(repo) + os.pathsep + e.get("PYTHONPATH", "")
    e.pop("PMEMCTL_SYSROOT", None)
    if tty:
        e.pop("NO_COLOR", None)
        e.setdefault("TERM", "xterm-256color")
    else:
        e["NO_COLOR"] = "1"
    return e


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def cpu_run(argv: Sequence[str], env_: dict[str, str], *, tty: bool = False) -> float:
    """CPU seconds (user + system) of one run of ``argv``: piped to a pipe we
    drain, or (``tty``) under a pseudo-terminal from ``pty.fork``."""
    before = _children_cpu()
    if tty:
        pid, fd = pty.fork()
        if pid == 0:  # the child: stdin/stdout/stderr are the terminal
            try:
                os.execvpe(argv[0], list(argv), env_)
            finally:
                os._exit(127)
        try:
            while os.read(fd, 1 << 16):
                pass
        except OSError:  # EIO: the child closed the terminal
            pass
        finally:
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        rc = os.waitstatus_to_exitcode(status)
    else:
        proc = subprocess.run(argv, env=env_, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        rc = proc.returncode
    if rc != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {rc}")
    return _children_cpu() - before


def shm_dir(prefix: str) -> tempfile.TemporaryDirectory[str]:
    """A temporary directory on tmpfs where there is one (removed on exit)."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    return tempfile.TemporaryDirectory(prefix=prefix, dir=base)


def check(name: str, value: float, target: float, unit: str = "x", detail: str = "") -> bool:
    """One figure next to its target; True when it meets it."""
    ok = value <= target
    print(f"{name:<58} {value:8.3f}{unit}  target <= {target:.2f}{unit}  {'OK' if ok else 'MISSED'}"
          + (f"  ({detail})" if detail else ""))
    return ok


def growth_exponent(sizes: Sequence[int], seconds: Sequence[float], fixed_cost: bool = True) -> float:
    """Least-squares slope of log(time) against log(size): 1.0 grows
    linearly with the block count, 2.0 quadratically, about 0 not at all.

    ``fixed_cost`` (a whole command's time): the smallest size's time stands
    for the fixed cost (start-up) and is taken off the others', which are
    fitted, so that it does not hide the growth.  Without it (a time that
    has no fixed part, such as the simulated kernel's own time per write,
    its set-up measured apart) every size is fitted as it is."""
    import math

    if not fixed_cost:
        pts = [(math.log(n), math.log(max(t, 1e-9))) for n, t in zip(sizes, seconds, strict=True)]
    else:
        base = seconds[0]
        # growth under 5 % of the fixed cost is noise: counted as that much (flat)
        pts = [(math.log(n), math.log(max(t - base, 0.05 * base, 1e-6)))
               for n, t in zip(sizes[1:], seconds[1:], strict=True)]
    if len(pts) < 2 or (not fixed_cost and len(pts) < 3):
        return float("nan")
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    den = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / den if den else float("nan")


def check_growth(name: str, sizes: Sequence[int], seconds: Sequence[float], limit: float = 1.1,
                 fixed_cost: bool = True) -> bool:
    """Print the fitted growth exponent of one path and flag one above ``limit``
    (``fixed_cost``: see :func:`growth_exponent`)."""
    k = growth_exponent(sizes, seconds, fixed_cost)
    figures = ", ".join(f"{n}: {t * 1000:.0f} ms" for n, t in zip(sizes, seconds, strict=True))
    if k != k:  # nan: too few sizes to fit
        print(f"{'growth of ' + name:<58} {'-':>8}   needs 3 sizes  ({figures})")
        return True
    return check("growth exponent of " + name, k, limit, unit=" ", detail=figures)
