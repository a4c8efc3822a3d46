"""The nd write sequences the namespace steps share (kernel-abi.md §5.2, §5.3),
the pseudo-writes that are not sysfs writes (a device wipe, an ndctl command
line), and the live reads a step makes before and after it runs.
"""

from __future__ import annotations

import errno
import shlex
from dataclasses import dataclass
from typing import ClassVar, Optional, Sequence

from pmemctl.errors import KernelError, PmemctlError
from pmemctl.model.nd import find_by_uuid, read_namespace_now
from pmemctl.model.records import Namespace, NamespaceMode
from pmemctl.ops.actions.base import Write, WriteFn
from pmemctl.ops.backends import ndctl
from pmemctl.ops.sizes import DEFAULT_ALIGN, PFN_MODES, exact_size
from pmemctl.sysfs import abi, paths
from pmemctl.sysfs.door import SysfsRoot

BTT_SECTOR_SIZE = 4096
#: namespace sector_size ndctl writes for pmem namespaces (kernel-abi.md §5.2)
NS_SECTOR_SIZE = 512
#: how much of the namespace start is wiped on destroy/reconfigure (§5.3)
INFO_BLOCK_WIPE = 8192


@dataclass(frozen=True)
class Shown(Write):
    """A sysfs write shown with its own shell text (e.g. ``echo > PATH`` for
    the newline that clears an attribute: an empty write never reaches sysfs)."""

    text: str = ""

    def shell(self) -> str:
        return self.text or super().shell()


def clear(path: str) -> Shown:
    return Shown(path, "\n", text=f"echo > {path}")


@dataclass(frozen=True)
class WipeInfoBlock(Write):
    """Not a sysfs write: zero the first 8 KiB of a block device (the old
    pfn/dax/btt info block, §5.3), read first and written only if not zero."""

    kind: ClassVar[str] = "wipe"

    def shell(self) -> str:
        return f"dd if=/dev/zero of={self.path} bs={INFO_BLOCK_WIPE} count=1 oflag=direct conv=notrunc"


@dataclass(frozen=True)
class NdctlCommand(Write):
    """Not a sysfs write: one ndctl command line (path "ndctl", value its arguments)."""

    kind: ClassVar[str] = "ndctl"

    argv: tuple[str, ...] = ()

    def shell(self) -> str:
        return shlex.join(("ndctl", *self.argv))


def ndctl_write(args: Sequence[str]) -> NdctlCommand:
    return NdctlCommand("ndctl", shlex.join(args), argv=tuple(args))


def region_seed(door: SysfsRoot, region: str, attr: str) -> str:
    return (door.read_optional(f"{paths.nd_device(region)}/{attr}") or "").strip()


def blockdev_now(door: SysfsRoot, namespace: str) -> str:
    names = sorted(door.listdir(paths.nd_device(namespace) + "/block"))
    return names[0] if names else abi.raw_blockdev(namespace)


def wipe_as_shown(door: SysfsRoot, namespace: str, shown: Write, *, strict: bool) -> WipeInfoBlock:
    """The wipe of the raw block device the kernel made for ``namespace``.

    The plan showed the device by the kernel's naming rule (abi.raw_blockdev);
    a planned step (``strict``) wipes nothing else: if the kernel named it
    otherwise, the step stops before the wipe.  Rollback steps, never shown
    beforehand, take the device the kernel made."""
    made = WipeInfoBlock(f"/dev/{blockdev_now(door, namespace)}", "zeros")
    if strict and made.path != shown.path:
        raise Stale(f"the kernel named the raw block device of {namespace} {made.path}, not {shown.path} as "
                    "the plan showed: nothing was wiped", hint="run the command again")
    return made


class Stale(PmemctlError):
    """The machine is not as the plan saw it: the step is not started."""


# --------------------------------------------------------------------------
# actions


def mode_label(mode: str, align: Optional[int]) -> str:
    if mode in PFN_MODES and align:
        return f"{mode} (align {exact_size(align)})"
    return mode



def run_sysfs(door: SysfsRoot, write: WriteFn, writes: Sequence[Write], recover: Sequence[Write] = ()) -> None:
    """Perform ``writes`` in order (``write`` skips their ignored errnos); on a
    failure, best-effort ``recover`` writes (ndctl's autorecover, §5.2), then
    re-raise the first error."""
    try:
        for w in writes:
            if isinstance(w, WipeInfoBlock):
                door.wipe_info_block(w.path, INFO_BLOCK_WIPE)
                continue
            write(w)
    except KernelError:
        for w in recover:
            try:
                door.write(w.path, w.value)
            except KernelError:
                pass
        raise


#: ndctl's mode names, old and new (kernel-abi.md §3.2: memory=fsdax, dax=devdax, safe=sector)
_NDCTL_MODE = {"memory": "fsdax", "dax": "devdax", "safe": "sector"}


def run_ndctl(door: SysfsRoot, args: Sequence[str], expect_mode: Optional[str] = None) -> ndctl.NdctlResult:
    """Run ndctl; a failure keeps its errno.  ``expect_mode``: the command
    prints the namespace it set up (one bare object); check it says so."""
    result = ndctl.run_ndctl(door, args)
    if not result.ok:
        raise result.failure()
    if expect_mode is not None:
        try:
            made = ndctl.parse_json(result.stdout)
        except ValueError as err:
            raise Stale(f"{result.command} printed no namespace JSON: {err}") from err
        mode = str(made[0].get("mode", "raw")) if made else None
        if mode is not None and _NDCTL_MODE.get(mode, mode) != expect_mode:
            raise Stale(f"{result.command} set up {made[0].get('dev', '?')} as {mode}, not {expect_mode}")
    return result


def state_line(door: SysfsRoot, namespace: str, uuid: Optional[str], region: str) -> str:
    name = namespace
    facts = read_namespace_now(door, name)
    if uuid and (facts is None or (facts.uuid or "") != uuid.lower()):
        found = find_by_uuid(door, region, uuid)
        if found is not None:
            name, facts = found, read_namespace_now(door, found)
        else:
            return f"{namespace}: no namespace of {region} carries its uuid {uuid} now"
    if facts is None:
        return f"{namespace} does not exist"
    if facts.size == 0:
        return f"{name} is not configured (size 0)"
    device = device_node(door, name, facts) if facts.enabled else None
    return f"{name} is {facts.mode.value}" + (f" ({device})" if device else "") + (
        ", enabled" if facts.enabled else ", disabled")


def device_node(door: SysfsRoot, namespace: str, facts: Namespace) -> Optional[str]:
    """The node a user opens: /dev/daxX.Y for devdax, the block device otherwise.

    The dax bus device is named after the *namespace* (drivers/dax/pmem.c
    parses namespaceX.Y), not after the nd dax personality device that
    holds it: namespace1.2 held by nd dax1.1 is /dev/dax1.2."""
    parent = paths.nd_device(facts.holder) if facts.holder else paths.nd_device(namespace)
    if facts.mode == NamespaceMode.DEVDAX:
        names = [e for e in door.listdir(parent) if abi.DAX_DEVICE_RE.match(e)]
    else:
        names = door.listdir(parent + "/block")
    return f"/dev/{sorted(names)[0]}" if names else None



def personality_writes(namespace: str, mode: str, seed: str, holder_uuid: str, align: Optional[int],
                        sector_size: Optional[int]) -> list[Write]:
    """Claim ``seed`` for ``namespace`` and enable it (§5.2); raw: enable the namespace."""
    ns = paths.nd_device(namespace)
    if mode == "raw":
        return [Write(paths.nd_driver("nd_pmem", "bind"), namespace)]
    personality = abi.PERSONALITIES[mode]
    holder_class, driver = personality.holder_prefix, personality.driver
    sd = paths.nd_device(seed)
    # holder_class: "errors ignored" (§5.2): older kernels lack the attribute
    out: list[Write] = [Write(ns + "/holder_class", holder_class, ignore_errnos=(errno.ENOENT, errno.EINVAL))]
    out.append(Write(sd + "/uuid", holder_uuid))
    if mode in PFN_MODES:
        out.append(Write(sd + "/mode", "pmem"))
        out.append(Write(sd + "/align", str(align or DEFAULT_ALIGN)))
    else:
        out.append(Write(sd + "/sector_size", str(sector_size or BTT_SECTOR_SIZE)))
    out.append(Write(sd + "/namespace", namespace))
    out.append(Write(paths.nd_driver(driver, "bind"), seed))
    return out


def release_writes(namespace: str, holder: str, holder_bound: bool, ns_bound: bool) -> list[Write]:
    """Disable a namespace and release its personality (§5.3 first steps)."""
    ns = paths.nd_device(namespace)
    out: list[Write] = []
    if holder:
        if holder_bound:
            out.append(Write(paths.nd_driver(abi.driver_of_holder(holder), "unbind"), holder))
        out.append(clear(paths.nd_device(holder) + "/namespace"))
        out.append(clear(ns + "/holder_class"))
    elif ns_bound:
        out.append(Write(paths.nd_driver("nd_pmem", "unbind"), namespace))
    return out


def wipe_writes(namespace: str, blockdev: str) -> list[Write]:
    """Enable raw, wipe the old info block, disable (§5.3)."""
    ns = paths.nd_device(namespace)
    return [
        Write(ns + "/force_raw", "1"),
        Write(paths.nd_driver("nd_pmem", "bind"), namespace),
        WipeInfoBlock(f"/dev/{blockdev}", "zeros"),
        Write(ns + "/force_raw", "0"),
        Write(paths.nd_driver("nd_pmem", "unbind"), namespace),
    ]
