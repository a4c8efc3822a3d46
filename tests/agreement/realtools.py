"""Run the real ndctl/daxctl/lsmem against a simulated tree.

A command runs inside a private mount namespace (``unshare -m
--propagation private``) where ``TREE/sys`` is bound over ``/sys`` and a
fresh tmpfs over ``/dev`` holds the device nodes listed in
``TREE/.pmemctl-sim/devnodes.json`` (made with ``mknod``).  ``/sys/module``
comes with the tree, which is what kmod looks at.  Nothing outside the
namespace changes.

The tools find devices like this (kernel-abi.md §4.1, §5.1): daxctl walks
``/sys/bus/dax/devices``, needs ``/dev/daxX.Y`` with the device's dev_t and
``/sys/dev/char/M:m`` leading back to a device on ``/sys/bus/dax``; ndctl
starts from ``/sys/class/nd/ndctlN``.  ``strace -f -e trace=openat,newfstatat``
through :func:`run_real_tool` shows what else a tool looks for.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional, Sequence

SETUP_FAILED_RC = 199
SETUP_MARKER = "realtools: setup failed:"


class RealToolSetupError(RuntimeError):
    """The private namespace could not be prepared (mount/mknod failed)."""


def _setup_script(tree: Path) -> str:
    manifest = tree / ".pmemctl-sim" / "devnodes.json"
    nodes = json.loads(manifest.read_text()) if manifest.exists() else []
    lines = [
        f'fail() {{ echo "{SETUP_MARKER} $1" >&2; exit {SETUP_FAILED_RC}; }}',
        f"mount --bind {shlex.quote(str(tree / 'sys'))} /sys || fail 'bind /sys'",
        # The tree may itself live under /dev (/dev/shm): bind /sys first.
        # nodev: the simulator's major numbers may belong to real drivers on
        # this host (a watchdog, a disk); the tools may stat the nodes, but
        # opening one must never reach a host device.
        "mount -t tmpfs -o mode=0755,size=4m,nodev pmemctl-sim-dev /dev || fail 'tmpfs /dev'",
    ]
    for node in nodes:
        path = str(node["path"])
        if not path.startswith("/dev/"):
            raise ValueError(f"device node outside /dev in {manifest}: {path}")
        parent = os.path.dirname(path)
        if parent != "/dev":
            lines.append(f"mkdir -p {shlex.quote(parent)} || fail mkdir")
        kind = "c" if node["type"] == "c" else "b"
        lines.append(
            f"mknod -m 0600 {shlex.quote(path)} {kind} {int(node['major'])} {int(node['minor'])} || fail mknod"
        )
    lines.append('exec "$@"')
    return "\n".join(lines) + "\n"


def run_real_tool(
    tree: Path, argv: Sequence[str], *, timeout: float = 300.0
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with ``tree`` seen as the machine's /sys and /dev.

    Returns the completed process (stdout/stderr as text, any exit status);
    raises RealToolSetupError when the namespace could not be prepared.
    """
    tree = Path(tree).absolute()
    if not (tree / "sys").is_dir():
        raise FileNotFoundError(f"{tree} has no sys/ directory")
    cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", _setup_script(tree), "realtools", *argv]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
    )
    if proc.returncode == SETUP_FAILED_RC and SETUP_MARKER in proc.stderr:
        raise RealToolSetupError(proc.stderr.strip())
    return proc


@functools.lru_cache(maxsize=None)
def _namespace_problem() -> Optional[str]:
    if os.geteuid() != 0:
        return "needs root (mount namespaces, bind mounts and mknod)"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    with tempfile.TemporaryDirectory(prefix="pmemctl-probe-") as scratch:
        probe = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             'mount -t tmpfs pmemctl-probe "$1" && mknod "$1/probe" c 1 3', "probe", scratch],
            capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
        )
    if probe.returncode != 0:
        return f"cannot make a private mount namespace here: {probe.stderr.strip() or probe.returncode}"
    return None


def real_tool_skip_reason(*tools: str) -> Optional[str]:
    """Why the real tools cannot run here, or None when they can."""
    for tool in tools:
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return _namespace_problem()


def parse_json_output(stdout: str) -> list[dict[str, object]]:
    """ndctl/daxctl print nothing for an empty list, a bare object with -u."""
    text = stdout.strip()
    if not text:
        return []
    data = json.loads(text)
    if isinstance(data, dict):
        return [data]
    return list(data)


__all__ = [
    "RealToolSetupError",
    "parse_json_output",
    "real_tool_skip_reason",
    "run_real_tool",
]
