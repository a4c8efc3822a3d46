"""Run pmemctl as an ordinary user (uid/gid 65534), the way a user would:
``setpriv --reuid=65534 --regid=65534 --clear-groups python3 -m pmemctl``.

The test interpreter may live where that user cannot read it (pyenv under
/root, mode 0700).  Then a world-readable stand-in is made: an interpreter of
the same version that the user can run (the system's python3.X), with
pmemctl's run-time dependencies (click, rich, psutil, pyudev and what they
need) copied from this interpreter into a temporary directory of mode 0755
put on PYTHONPATH with the repository.  Nothing is downloaded.
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Optional

NOBODY = 65534
REPO = Path(__file__).resolve().parents[2]
SETPRIV = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def _as_nobody(argv: list[str], env: Optional[dict[str, str]] = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SETPRIV, *argv], capture_output=True, text=True, env=env, cwd="/", timeout=120)


def _reachable(path: Path) -> bool:
    """``path`` and every directory above it can be searched by others."""
    return all(os.stat(p).st_mode & stat.S_IXOTH for p in [path, *path.parents] if p.exists())


def _runtime_distributions() -> list[str]:
    """pmemctl's dependencies and theirs, by distribution name (markers of
    this platform evaluated, extras left out)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    todo = ["click", "rich", "pyudev", "psutil"]
    seen: list[str] = []
    while todo:
        name = todo.pop()
        if name.lower() in (s.lower() for s in seen):
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.append(name)
        for text in dist.requires or ():
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def _copy_distributions(dest: Path) -> None:
    from importlib import metadata

    for name in _runtime_distributions():
        dist = metadata.distribution(name)
        for f in dist.files or ():
            src = Path(str(dist.locate_file(f))).resolve()
            if ".." in f.parts or not src.is_file() or "__pycache__" in f.parts:
                continue
            target = dest / f
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    for dirpath, _dirs, files in os.walk(dest):
        os.chmod(dirpath, 0o755)
        for name in files:
            os.chmod(os.path.join(dirpath, name), 0o644)


def _candidates() -> list[str]:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    out = [sys.executable]
    for d in ("/usr/bin", "/usr/local/bin", "/bin"):
        p = os.path.join(d, version)
        if os.path.isfile(p) and p not in out:
            out.append(p)
    return out


@lru_cache(maxsize=1)
def nobody_python() -> tuple[Optional[list[str]], Optional[dict[str, str]], str]:
    """(interpreter argv, environment, "") to run pmemctl as uid 65534, or
    (None, None, why not)."""
    if os.geteuid() != 0:
        return None, None, "needs root to drop to an ordinary user (uid 65534)"
    if shutil.which("setpriv") is None:
        return None, None, "setpriv is not installed"
    if not _reachable(REPO):
        return None, None, f"{REPO} is not readable by uid {NOBODY}"
    base = {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "PYTHONHOME", "PMEMCTL_SYSROOT", "PMEMCTL_TRACEBACK", "COLUMNS")}
    base |= {"NO_COLOR": "1", "HOME": "/", "PYTHONDONTWRITEBYTECODE": "1"}
    probe = "import sys; sys.path.remove('') if '' in sys.path else None; import click, rich, psutil, pmemctl.cli.main"
    deps: Optional[Path] = None
    for python in _candidates():
        env = base | {"PYTHONPATH": str(REPO)}
        if _as_nobody([python, "-c", probe], env).returncode == 0:
            return [python], env, ""
        if python == sys.executable:
            continue  # the same files, copied, would not help if the interpreter itself is unreadable
        if deps is None:
            deps = Path(tempfile.mkdtemp(prefix="pmemctl-nobody-site-", dir="/tmp"))
            atexit.register(shutil.rmtree, deps, True)
            os.chmod(deps, 0o755)
            _copy_distributions(deps)
        env = base | {"PYTHONPATH": f"{REPO}{os.pathsep}{deps}", "PYTHONNOUSERSITE": "1"}
        if _as_nobody([python, "-c", probe], env).returncode == 0:
            return [python], env, ""
    return None, None, f"no Python {sys.version_info.major}.{sys.version_info.minor} that uid {NOBODY} can run"


def run_pmemctl_as_nobody(*args: str) -> tuple[int, str, str]:
    """``pmemctl ARGS`` through setpriv as uid/gid 65534: (exit, stdout, stderr)."""
    python, env, why = nobody_python()
    assert python is not None, why
    proc = _as_nobody([*python, "-m", "pmemctl", *args], env)
    return proc.returncode, proc.stdout, proc.stderr
