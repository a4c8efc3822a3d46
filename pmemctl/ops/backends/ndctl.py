"""Running the real ndctl: argument lists, its JSON quirks, its exit statuses.

ndctl is run with an argument list, never through a shell.  Facts used here
(kernel-abi.md §1, §3):

* JSON goes to stdout, messages to stderr.  A list command prints an array,
  except that with ``-u`` a single result is a bare object; an empty result
  prints nothing at all.  ``create-namespace`` always prints one bare object.
* json-c escapes ``/`` as ``\\/`` (plain JSON: :func:`json.loads` undoes it).
* Under ``-u`` sizes are strings like ``"15.75 GiB (16.91 GB)"`` (values under
  5000 KiB stay integers) and hex fields are ``"0x…"`` strings.
* The exit status is ``rc & 0xff`` of a negative errno, i.e. ``256 - errno``
  (EBUSY → 240, ENXIO → 250, ENOENT → 254, ENODEV → 237, EINVAL → 234,
  ENOSPC → 228, EOPNOTSUPP → 161); option errors exit 129; "nothing to do"
  paths exit 1.

ndctl runs through the door (:meth:`SysfsRoot.run_tool`): a subprocess on
the running machine, the simulator's FUSE bridge on a simulated tree.
"""

from __future__ import annotations

import errno as _errno
import json
import re
import shlex
import shutil
from typing import Any, Optional, Sequence

from pmemctl.errors import ExitCode, KernelError, Unsupported, errno_meaning, errno_name, kernel_error
from pmemctl.sysfs.door import SysfsRoot, ToolResult, ToolUnavailable

NDCTL = "ndctl"
#: ndctl's status for option/usage errors (parse_options → usage_with_options)
USAGE_STATUS = 129
#: how long one ndctl command may take (a create zeroes and scans; big regions take a while)
TIMEOUT = 300.0


def find_ndctl() -> Optional[str]:
    """Path of the ndctl binary on PATH, or None."""
    return shutil.which(NDCTL)


def unavailable_reason(door: SysfsRoot) -> Optional[str]:
    """Why ndctl cannot run on the machine ``door`` opens (None: it can)."""
    return door.tool_unavailable_reason(NDCTL)


# --------------------------------------------------------------------------
# exit statuses


def status_errno(status: int) -> Optional[int]:
    """The errno behind an ndctl exit status (None for 0, 1 and usage errors)."""
    if status in (0, 1, USAGE_STATUS) or status < 0:
        return None
    if 128 < status < 256 and not errno_name(256 - status).startswith("errno "):
        return 256 - status
    return None


#: errno behind an ndctl failure → the pmemctl exit code it stands for, when
#: ndctl is the whole answer (outside a plan; inside one the executor decides:
#: failed / rolled back / rollback incomplete, with this errno on the step)
ERRNO_EXIT: dict[int, ExitCode] = {
    _errno.EBUSY: ExitCode.REFUSED,  # active / system-ram online: the kernel refused
    _errno.ENOSPC: ExitCode.REFUSED,  # no region has room
    _errno.EINVAL: ExitCode.USAGE,  # a size/align/mode the region does not take
    _errno.ENOENT: ExitCode.NOT_FOUND,
    _errno.ENXIO: ExitCode.NOT_FOUND,
    _errno.ENODEV: ExitCode.UNSUPPORTED,  # no seed / no driver accepts it
    _errno.EOPNOTSUPP: ExitCode.UNSUPPORTED,
    _errno.EACCES: ExitCode.REFUSED,
    _errno.EPERM: ExitCode.REFUSED,
}


def exit_code_for_status(status: int) -> ExitCode:
    """ndctl exit status → pmemctl ExitCode (0 → OK, 1 → NO_CHANGE, 129 → USAGE)."""
    if status == 0:
        return ExitCode.OK
    if status == 1:
        return ExitCode.NO_CHANGE
    if status == USAGE_STATUS:
        return ExitCode.USAGE
    err = status_errno(status)
    if err is None:
        return ExitCode.FAILED
    return ERRNO_EXIT.get(err, ExitCode.FAILED)


class NdctlResult(ToolResult):
    """One ndctl run, read the way ndctl reports (exit status = 256 - errno)."""

    __slots__ = ()  # the fields of ToolResult, read differently

    @property
    def ok(self) -> bool:
        return self.status == 0

    @property
    def errno(self) -> Optional[int]:
        return status_errno(self.status)

    @property
    def command(self) -> str:
        return shlex.join(self.argv)

    def message(self) -> str:
        """ndctl's own last complaint on stderr (its "error ..." line), if any."""
        lines = [ln.strip() for ln in self.stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln.lower() or "failed" in ln.lower()]
        return (errors or lines or [""])[-1]

    def failure(self) -> KernelError:
        """The typed error for a failed run (errno kept; ndctl's words as the hint)."""
        err = self.errno
        said = self.message()
        if self.status == USAGE_STATUS:
            exc = KernelError(self.command, _errno.EINVAL, op="run")
            exc.message = f"{self.command} rejected its options (exit 129)"
        elif err is None:
            exc = KernelError(self.command, _errno.EIO, op="run")
            exc.message = f"{self.command} failed with exit status {self.status}"
        else:
            exc = kernel_error(self.command, err, op="run")
            name = errno_name(err)
            exc.message = (
                f"{self.command} failed with exit status {self.status} "
                f"(= 256 - {name}: {errno_meaning(err)})"
            )
        exc.hint = f"ndctl said: {said}" if said else None
        return exc


# --------------------------------------------------------------------------
# running


def run_ndctl(door: SysfsRoot, args: Sequence[str], *, timeout: float = TIMEOUT) -> NdctlResult:
    """Run ``ndctl ARGS`` on the machine ``door`` opens (:meth:`SysfsRoot.run_tool`).

    The running machine: a subprocess with an argument list.  A simulated
    tree: the real ndctl through the simulator's FUSE bridge, when available.
    Any other sysroot: Unsupported (ndctl has no sysroot option).
    """
    argv = (NDCTL, *args)
    reason = unavailable_reason(door)
    if reason is not None:
        raise unavailable_error(door, reason, hint="use --backend sysfs")
    try:
        result = door.run_tool(argv, timeout=timeout)
    except ToolUnavailable as err:
        err.hint = "use --backend sysfs"
        raise
    return NdctlResult(result.argv, result.status, result.stdout, result.stderr)


def unavailable_error(door: SysfsRoot, reason: str, *, hint: str) -> Unsupported:
    """The sentence for an ndctl that cannot run on ``door``'s machine."""
    if door.kind == "host":
        return Unsupported(reason, hint="install it (package ndctl) or use --backend sysfs")
    if door.kind == "simulated":
        return Unsupported(f"the ndctl backend cannot run on this simulated tree: {reason}", hint=hint)
    return Unsupported(
        f"the ndctl backend only works on the running machine (sysroot /), not on {door.root}", hint=hint,
    )


# --------------------------------------------------------------------------
# JSON


def parse_json(text: str) -> list[dict[str, Any]]:
    """ndctl's stdout → a list of objects.

    Empty output is an empty list (list commands print nothing for no
    result); a bare object (``-u`` with one result, or create-namespace) is
    one element; ``\\/`` escapes are plain JSON.  A top-level object holding
    class arrays (``{"dimms":[…],"regions":[…]}``) is returned as one element.
    """
    text = text.strip()
    if not text:
        return []
    data = json.loads(text)
    if isinstance(data, list):
        return [d for d in data if isinstance(d, dict)]
    if isinstance(data, dict):
        return [data]
    raise ValueError(f"unexpected ndctl JSON: {text[:80]!r}")


_HUMAN_RE = re.compile(r"^\s*([0-9.]+)\s*(KiB|MiB|GiB|TiB|PiB)\b")
_HUMAN_SCALE = {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4, "PiB": 1024**5}


def parse_size_field(value: Any) -> Optional[int]:
    """A size field in either form: an integer, a ``"0x…"`` hex string (-u),
    or a human string ``"15.75 GiB (16.91 GB)"`` (-u; two decimals, so the
    result is approximate to 1/200 of the unit)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r"0[xX][0-9a-fA-F]+", text):
        return int(text, 16)
    if re.fullmatch(r"\d+", text):
        return int(text)
    m = _HUMAN_RE.match(text)
    if m:
        return int(round(float(m.group(1)) * _HUMAN_SCALE[m.group(2)]))
    raise ValueError(f"not an ndctl size: {value!r}")


# --------------------------------------------------------------------------
# command lines


def create_args(
    region: str, mode: str, size: int, *, uuid: str, align: Optional[int], name: Optional[str],
    sector_size: Optional[int],
) -> list[str]:
    args = ["create-namespace", "--region", region, "--mode", mode, "--size", str(size), "--uuid", uuid]
    if align is not None:
        args += ["--align", str(align)]
    if sector_size is not None:
        args += ["--sector-size", str(sector_size)]
    if name:
        args += ["--name", name]
    return args


def reconfigure_args(
    namespace: str, mode: str, *, align: Optional[int], sector_size: Optional[int], uuid: Optional[str] = None,
) -> list[str]:
    """``create-namespace -e NS -f``.  ``--no-autolabel``: on a label-less
    region ndctl would otherwise try to initialise the DIMMs' label areas
    (turning the region into a labelled one) before reconfiguring; pmemctl
    changes only the namespace's personality, with either backend."""
    args = ["create-namespace", "--reconfig", namespace, "--mode", mode, "--force", "--no-autolabel"]
    if uuid is not None:  # the new label uuid (ndctl makes one up otherwise)
        args += ["--uuid", uuid]
    if align is not None:
        args += ["--align", str(align)]
    if sector_size is not None:
        args += ["--sector-size", str(sector_size)]
    return args


def destroy_args(namespace: str) -> list[str]:
    return ["destroy-namespace", "--force", namespace]
