"""Namespaces: create, reconfigure, destroy, and the size planner.

Two backends do the same steps (kernel-abi.md §3, §5.2, §5.3, §7.7):

* ``sysfs``: the write sequences libndctl performs (seeds, uuid, size,
  sector size, the pfn/dax/btt personality, enable), through the door, so
  pmemctl works where ndctl is absent and on the simulator;
* ``ndctl``: the real ndctl, run with argument lists (ops/backends/ndctl.py).

A plan is the same for both: the same checks, notes and steps (one step per
ndctl command: create, reconfigure, destroy); only each step's exact writes
differ (sysfs writes, or the ndctl command line).  Both are verified by
reading sysfs back, so both give the same outcomes.

Data safety (refused before the first write): a namespace whose block
device (pmemN, pmemN.M, pmemNs, or a partition) is mounted (never
overridden) or claimed by a stacked device (never overridden), held open
by a process (--force), or whose dax device is system-ram with blocks
online (--force: the plan then offlines them first).
"""

from __future__ import annotations

import errno
import re
import uuid as _uuid
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Optional, Sequence

from pmemctl.errors import (
    KernelError,
    PmemctlError,
    Refused,
    Unsupported,
    UsageError,
)
from pmemctl.model.discover import discover, find_object_error, read_nd
from pmemctl.model.records import DaxDevice, DaxMode, Namespace, NamespaceMode, Region, Topology
from pmemctl.ops.backends import ndctl
from pmemctl.ops.actions import ACTION_TYPES, Action, Write
from pmemctl.ops.sizes import (
    DEFAULT_ALIGN,
    DEFAULT_SUPPORTED_ALIGNMENTS,
    MODES,
    PFN_MODES,
    Extent,
    RamPlan,
    RegionGeometry,
    check_size,
    exact_size,
    human,
    pfn_layout,
    plan_ram,
    ram_of,
    suggestion,
)
from pmemctl.ops.plan import Plan, PlanBuilder
from pmemctl.sysfs import paths
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.units import parse_size

BACKENDS = ("auto", "ndctl", "sysfs")
#: btt sector size pmemctl asks for in sector mode (ndctl's choice for pmem)
BTT_SECTOR_SIZE = 4096
#: namespace sector_size ndctl writes for pmem namespaces (kernel-abi.md §5.2)
NS_SECTOR_SIZE = 512
#: how much of the namespace start is wiped on destroy/reconfigure (§5.3)
INFO_BLOCK_WIPE = 8192
MAX_NAME = 63

#: personality per mode: (holder_class, seed attribute of the region, nd driver)
PERSONALITY = {
    "devdax": ("dax", "dax_seed", "dax_pmem"),
    "fsdax": ("pfn", "pfn_seed", "nd_pmem"),
    "sector": ("btt", "btt_seed", "nd_pmem"),
}

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NULL_UUID = "00000000-0000-0000-0000-000000000000"


class AmbiguousSelector(Refused):
    """A namespace selector (name or uuid) that matches more than one namespace."""


# --------------------------------------------------------------------------
# kernel paths and names


def nd_dev(name: str) -> str:
    """``/sys/bus/nd/devices/NAME``: the stable path of any nd device."""
    return f"{paths.ND_DEVICES}/{name}"


def nd_driver(driver: str, op: str) -> str:
    return f"{paths.ND_DRIVERS}/{driver}/{op}"


def _ns_ids(namespace: str) -> tuple[int, int]:
    m = re.fullmatch(r"namespace(\d+)\.(\d+)", namespace)
    if m is None:
        raise ValueError(namespace)
    return int(m.group(1)), int(m.group(2))


def raw_blockdev(namespace: str) -> str:
    """The block device a namespace gets when enabled raw: ``pmemR`` for
    namespaceR.0, else ``pmemR.N`` (drivers/nvdimm nvdimm_namespace_disk_name)."""
    r, n = _ns_ids(namespace)
    return f"pmem{r}" if n == 0 else f"pmem{r}.{n}"


def dax_name(namespace: str) -> str:
    """The dax bus device dax_pmem creates is named from the namespace (§7.7)."""
    r, n = _ns_ids(namespace)
    return f"dax{r}.{n}"


def _driver_of_holder(holder: str) -> str:
    return "dax_pmem" if holder.startswith("dax") else "nd_pmem"


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
        import shlex

        return shlex.join(("ndctl", *self.argv))


def ndctl_write(args: Sequence[str]) -> NdctlCommand:
    import shlex

    return NdctlCommand("ndctl", shlex.join(args), argv=tuple(args))


# --------------------------------------------------------------------------
# what sysfs says now (for staleness checks before a step, and verification)


@dataclass(frozen=True)
class NsFacts:
    exists: bool
    size: int = 0
    uuid: Optional[str] = None
    holder: str = ""
    holder_bound: bool = False
    ns_bound: bool = False
    mode: str = "raw"  # devdax / fsdax / sector / raw
    align: Optional[int] = None
    alt_name: Optional[str] = None
    region: Optional[str] = None


def ns_facts(door: SysfsRoot, namespace: str) -> NsFacts:
    base = nd_dev(namespace)
    if not door.exists(base):
        return NsFacts(False)
    size_text = door.read_optional(base + "/size")
    holder = (door.read_optional(base + "/holder") or "").strip()
    uuid = (door.read_optional(base + "/uuid") or "").strip() or None
    if uuid == _NULL_UUID:
        uuid = None
    mode = "raw"
    align: Optional[int] = None
    holder_bound = False
    if holder:
        holder_bound = door.readlink(nd_dev(holder) + "/driver") is not None
        mode = {"dax": "devdax", "pfn": "fsdax", "btt": "sector"}.get(re.sub(r"\d.*", "", holder), "raw")
        if mode in PFN_MODES:
            text = door.read_optional(nd_dev(holder) + "/align")
            align = int(text) if text and text.strip().isdigit() else None
    region = None
    try:
        region = door.resolve(base).rsplit("/", 2)[-2]
    except PmemctlError:
        pass
    return NsFacts(
        exists=True,
        size=int(size_text) if size_text and size_text.strip().isdigit() else 0,
        uuid=uuid,
        holder=holder,
        holder_bound=holder_bound,
        ns_bound=door.readlink(base + "/driver") is not None,
        mode=mode,
        align=align,
        alt_name=(door.read_optional(base + "/alt_name") or "").strip() or None,
        region=region,
    )


def region_seed(door: SysfsRoot, region: str, attr: str) -> str:
    return (door.read_optional(f"{nd_dev(region)}/{attr}") or "").strip()


def find_by_uuid(door: SysfsRoot, region: str, uuid: str) -> Optional[str]:
    """The namespace of ``region`` whose (label) uuid is ``uuid``, if any."""
    for entry in sorted(door.listdir(paths.ND_DEVICES)):
        if not entry.startswith(f"namespace{region[len('region'):]}."):
            continue
        text = (door.read_optional(nd_dev(entry) + "/uuid") or "").strip().lower()
        if text == uuid.lower():
            return entry
    return None


def _blockdev_now(door: SysfsRoot, namespace: str) -> str:
    names = sorted(door.listdir(nd_dev(namespace) + "/block"))
    return names[0] if names else raw_blockdev(namespace)


class _Stale(PmemctlError):
    """The machine is not as the plan saw it: the step is not started."""


# --------------------------------------------------------------------------
# actions


def _label(mode: str, align: Optional[int]) -> str:
    if mode in PFN_MODES and align:
        return f"{mode} (align {exact_size(align)})"
    return mode


@dataclass(frozen=True)
class NamespaceAction(Action):
    """Common part of the namespace steps: a backend and its execution."""

    destructive: ClassVar[bool] = True

    def execute(self, door: SysfsRoot) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def state_lines(self, door: SysfsRoot) -> list[str]:  # pragma: no cover - abstract
        return []


def _run_sysfs(door: SysfsRoot, writes: Sequence[Write], recover: Sequence[Write] = ()) -> None:
    """Perform ``writes`` in order; on a failure, best-effort ``recover``
    writes (ndctl's autorecover, §5.2), then re-raise the first error."""
    try:
        for w in writes:
            if isinstance(w, WipeInfoBlock):
                door.wipe_info_block(w.path, INFO_BLOCK_WIPE)
                continue
            try:
                door.write(w.path, w.value)
            except KernelError as err:
                if err.errno in w.ignore_errnos:
                    continue
                raise
    except KernelError:
        for w in recover:
            try:
                door.write(w.path, w.value)
            except KernelError:
                pass
        raise


#: ndctl's mode names, old and new (kernel-abi.md §3.2: memory=fsdax, dax=devdax, safe=sector)
_NDCTL_MODE = {"memory": "fsdax", "dax": "devdax", "safe": "sector"}


def _run_ndctl(door: SysfsRoot, args: Sequence[str], expect_mode: Optional[str] = None) -> ndctl.NdctlResult:
    """Run ndctl; a failure keeps its errno.  ``expect_mode``: the command
    prints the namespace it set up (one bare object); check it says so."""
    result = ndctl.run_ndctl(door, args)
    if not result.ok:
        raise result.failure()
    if expect_mode is not None:
        try:
            made = ndctl.parse_json(result.stdout)
        except ValueError as err:
            raise _Stale(f"{result.command} printed no namespace JSON: {err}") from err
        mode = str(made[0].get("mode", "raw")) if made else None
        if mode is not None and _NDCTL_MODE.get(mode, mode) != expect_mode:
            raise _Stale(f"{result.command} set up {made[0].get('dev', '?')} as {mode}, not {expect_mode}")
    return result


def _state_line(door: SysfsRoot, namespace: str, uuid: Optional[str], region: str) -> str:
    name = namespace
    facts = ns_facts(door, name)
    if uuid and (not facts.exists or (facts.uuid or "") != uuid.lower()):
        found = find_by_uuid(door, region, uuid)
        if found is not None:
            name, facts = found, ns_facts(door, found)
        else:
            return f"{namespace}: no namespace of {region} carries its uuid {uuid} now"
    if not facts.exists:
        return f"{namespace} does not exist"
    if facts.size == 0:
        return f"{name} is not configured (size 0)"
    enabled = facts.holder_bound if facts.holder else facts.ns_bound
    device = _device_node(door, name, facts) if enabled else None
    return f"{name} is {facts.mode}" + (f" ({device})" if device else "") + (
        ", enabled" if enabled else ", disabled")


def _device_node(door: SysfsRoot, namespace: str, facts: NsFacts) -> Optional[str]:
    """The node a user opens: /dev/daxX.Y for devdax, the block device otherwise.

    The dax bus device is named after the *namespace* (drivers/dax/pmem.c
    parses namespaceX.Y), not after the nd dax personality device that
    holds it: namespace1.2 held by nd dax1.1 is /dev/dax1.2."""
    parent = nd_dev(facts.holder) if facts.holder else nd_dev(namespace)
    if facts.mode == "devdax":
        names = [e for e in door.listdir(parent) if re.fullmatch(r"dax\d+\.\d+", e)]
    else:
        names = door.listdir(parent + "/block")
    return f"/dev/{sorted(names)[0]}" if names else None


@dataclass(frozen=True)
class CreateNamespace(NamespaceAction):
    """Create a namespace on the region's seed (§5.2), or ``ndctl create-namespace``."""

    region: str
    namespace: str  # the namespace seed the kernel offers (namespace_seed)
    mode: str
    size: int
    uuid: str  # the namespace (label) uuid: ndctl --uuid
    holder_uuid: str  # the pfn/dax/btt info-block uuid (sysfs backend)
    seed: str = ""  # the pfn/dax/btt seed ("" for raw)
    align: Optional[int] = None
    name: Optional[str] = None
    sector_size: Optional[int] = None  # btt sector size (sector mode)
    has_alt_name: bool = True
    has_sector_size: bool = True
    backend: str = "sysfs"
    kind: ClassVar[str] = "ns-create"
    destructive: ClassVar[bool] = False

    def describe(self) -> str:
        text = f"create {self.namespace} in {self.region}: {human(self.size)} {_label(self.mode, self.align)}"
        if self.name:
            text += f", name {self.name!r}"
        return text

    def sysfs_writes(self) -> list[Write]:
        ns = nd_dev(self.namespace)
        out: list[Write] = [Write(ns + "/uuid", self.uuid)]
        if self.has_alt_name:
            out.append(Write(ns + "/alt_name", self.name) if self.name else clear(ns + "/alt_name"))
        out.append(Write(ns + "/size", hex(self.size)))
        if self.has_sector_size:
            out.append(Write(ns + "/sector_size", str(NS_SECTOR_SIZE)))
        out.extend(_personality_writes(self.namespace, self.mode, self.seed, self.holder_uuid, self.align,
                                       self.sector_size))
        return out

    def recover_writes(self) -> list[Write]:
        ns = nd_dev(self.namespace)
        out: list[Write] = []
        if self.seed:
            out.append(clear(nd_dev(self.seed) + "/namespace"))
            out.append(clear(ns + "/holder_class"))
        out.append(Write(ns + "/size", "0"))
        return out

    def ndctl_args(self) -> list[str]:
        return ndctl.create_args(
            self.region, self.mode, self.size, uuid=self.uuid,
            align=self.align if self.mode in PFN_MODES else None, name=self.name,
            sector_size=self.sector_size if self.mode == "sector" else None,
        )

    def writes(self) -> list[Write]:
        if self.backend == "ndctl":
            return [ndctl_write(self.ndctl_args())]
        return self.sysfs_writes()

    def _check_fresh(self, door: SysfsRoot) -> None:
        seed_now = region_seed(door, self.region, "namespace_seed")
        if seed_now != self.namespace:
            raise _Stale(f"{self.region}'s namespace seed is now {seed_now or 'none'}, not {self.namespace}: "
                         "the region changed since the plan was made", hint="run the command again")
        facts = ns_facts(door, self.namespace)
        if facts.size or facts.ns_bound:
            raise _Stale(f"{self.namespace} is no longer an idle seed", hint="run the command again")
        if self.seed:
            attr = PERSONALITY[self.mode][1]
            now = region_seed(door, self.region, attr)
            if now != self.seed:
                raise _Stale(f"{self.region}'s {attr} is now {now or 'none'}, not {self.seed}",
                             hint="run the command again")

    def execute(self, door: SysfsRoot) -> None:
        self._check_fresh(door)
        if self.backend == "ndctl":
            _run_ndctl(door, self.ndctl_args(), expect_mode=self.mode)
            return
        _run_sysfs(door, self.sysfs_writes(), self.recover_writes())

    def _created(self, door: SysfsRoot) -> Optional[str]:
        facts = ns_facts(door, self.namespace)
        if facts.exists and (facts.uuid or "") == self.uuid.lower():
            return self.namespace
        return find_by_uuid(door, self.region, self.uuid)

    def satisfied(self, door: SysfsRoot) -> bool:
        return self._created(door) is not None and self.verify(door) is None

    def verify(self, door: SysfsRoot) -> Optional[str]:
        name = self._created(door)
        if name is None:
            return f"no namespace with uuid {self.uuid} appeared in {self.region}"
        facts = ns_facts(door, name)
        if facts.size != self.size:
            return f"{name} has size {facts.size}, not {self.size}"
        if facts.mode != self.mode:
            return f"{name} is {facts.mode}, not {self.mode}"
        enabled = facts.holder_bound if facts.holder else facts.ns_bound
        if not enabled:
            return f"{name} was configured but is not enabled (no driver accepted it)"
        return None

    def inverse(self) -> Action:
        return DestroyNamespace(
            region=self.region, namespace=self.namespace, mode=self.mode, size=self.size, uuid=self.uuid,
            labeled=True, holder=self.seed, holder_bound=bool(self.seed), ns_bound=not self.seed,
            backend=self.backend, replan=True,
        )

    def state_lines(self, door: SysfsRoot) -> list[str]:
        return [_state_line(door, self.namespace, self.uuid, self.region)]


def _personality_writes(namespace: str, mode: str, seed: str, holder_uuid: str, align: Optional[int],
                        sector_size: Optional[int]) -> list[Write]:
    """Claim ``seed`` for ``namespace`` and enable it (§5.2); raw: enable the namespace."""
    ns = nd_dev(namespace)
    if mode == "raw":
        return [Write(nd_driver("nd_pmem", "bind"), namespace)]
    holder_class, _attr, driver = PERSONALITY[mode]
    sd = nd_dev(seed)
    # holder_class: "errors ignored" (§5.2): older kernels lack the attribute
    out: list[Write] = [Write(ns + "/holder_class", holder_class, ignore_errnos=(errno.ENOENT, errno.EINVAL))]
    out.append(Write(sd + "/uuid", holder_uuid))
    if mode in PFN_MODES:
        out.append(Write(sd + "/mode", "pmem"))
        out.append(Write(sd + "/align", str(align or DEFAULT_ALIGN)))
    else:
        out.append(Write(sd + "/sector_size", str(sector_size or BTT_SECTOR_SIZE)))
    out.append(Write(sd + "/namespace", namespace))
    out.append(Write(nd_driver(driver, "bind"), seed))
    return out


def _release_writes(namespace: str, holder: str, holder_bound: bool, ns_bound: bool) -> list[Write]:
    """Disable a namespace and release its personality (§5.3 first steps)."""
    ns = nd_dev(namespace)
    out: list[Write] = []
    if holder:
        if holder_bound:
            out.append(Write(nd_driver(_driver_of_holder(holder), "unbind"), holder))
        out.append(clear(nd_dev(holder) + "/namespace"))
        out.append(clear(ns + "/holder_class"))
    elif ns_bound:
        out.append(Write(nd_driver("nd_pmem", "unbind"), namespace))
    return out


def _wipe_writes(namespace: str, blockdev: str) -> list[Write]:
    """Enable raw, wipe the old info block, disable (§5.3)."""
    ns = nd_dev(namespace)
    return [
        Write(ns + "/force_raw", "1"),
        Write(nd_driver("nd_pmem", "bind"), namespace),
        WipeInfoBlock(f"/dev/{blockdev}", "zeros"),
        Write(ns + "/force_raw", "0"),
        Write(nd_driver("nd_pmem", "unbind"), namespace),
    ]


@dataclass(frozen=True)
class ReconfigureNamespace(NamespaceAction):
    """Change a namespace's personality in place: disable it, wipe the info
    block, claim a new seed, enable (§3.2 ``create-namespace -e``)."""

    region: str
    namespace: str
    mode: str  # target
    from_mode: str
    uuid: Optional[str] = None  # namespace uuid (labeled), to find it again
    #: the label uuid it gets (labelled namespaces): ndctl -e writes a new one,
    #: and so does the sysfs backend, so both end the same
    new_uuid: Optional[str] = None
    holder: str = ""  # current pfn/dax/btt holder ("" raw)
    holder_bound: bool = False
    ns_bound: bool = False
    seed: str = ""  # the seed to claim ("" raw, or: whatever the region offers then)
    holder_uuid: str = ""
    align: Optional[int] = None
    from_align: Optional[int] = None
    sector_size: Optional[int] = None
    backend: str = "sysfs"
    #: True for rollback steps: take the machine as it is then (seeds, holder)
    replan: bool = False
    kind: ClassVar[str] = "ns-reconfigure"

    def describe(self) -> str:
        return (f"reconfigure {self.namespace} from {_label(self.from_mode, self.from_align)} to "
                f"{_label(self.mode, self.align)} (wipes its info block)")

    def _live(self, door: SysfsRoot) -> "ReconfigureNamespace":
        """This step as the machine is now: rollback steps adapt, planned steps
        must find the machine as planned."""
        name = self._find(door) or self.namespace
        facts = ns_facts(door, name)
        if not facts.exists:
            raise _Stale(f"{self.namespace} no longer exists")
        seed = self.seed
        if self.mode != "raw":
            now = region_seed(door, self.region, PERSONALITY[self.mode][1])
            if self.replan or not seed:
                seed = now
            elif now != seed:
                raise _Stale(f"{self.region}'s {PERSONALITY[self.mode][1]} is now {now or 'none'}, not {seed}",
                             hint="run the command again")
            if not seed:
                raise _Stale(f"{self.region} offers no {PERSONALITY[self.mode][1]}: it cannot take {self.mode}")
        live = replace(self, namespace=name, holder=facts.holder, holder_bound=facts.holder_bound,
                       ns_bound=facts.ns_bound, seed=seed)
        if not self.replan and (live.holder, live.holder_bound, live.ns_bound) != (
                self.holder, self.holder_bound, self.ns_bound):
            raise _Stale(f"{self.namespace} changed since the plan was made "
                         f"(holder {facts.holder or 'none'})", hint="run the command again")
        return live

    def sysfs_writes(self) -> list[Write]:
        out = _release_writes(self.namespace, self.holder, self.holder_bound, self.ns_bound)
        out += _wipe_writes(self.namespace, raw_blockdev(self.namespace))
        if self.new_uuid:
            out.append(Write(nd_dev(self.namespace) + "/uuid", self.new_uuid))
        out += _personality_writes(self.namespace, self.mode, self.seed or f"<{self.mode} seed>",
                                   self.holder_uuid or "<new uuid>", self.align, self.sector_size)
        return out

    def recover_writes(self) -> list[Write]:
        ns = nd_dev(self.namespace)
        out: list[Write] = [Write(ns + "/force_raw", "0")]
        if self.seed:
            out += [clear(nd_dev(self.seed) + "/namespace"), clear(ns + "/holder_class")]
        return out

    def ndctl_args(self) -> list[str]:
        return ndctl.reconfigure_args(
            self.namespace, self.mode, align=self.align if self.mode in PFN_MODES else None,
            sector_size=self.sector_size if self.mode == "sector" else None, uuid=self.new_uuid,
        )

    def writes(self) -> list[Write]:
        if self.backend == "ndctl":
            return [ndctl_write(self.ndctl_args())]
        return self.sysfs_writes()

    def execute(self, door: SysfsRoot) -> None:
        live = self._live(door)
        try:
            self._execute_live(door, live)
        except PmemctlError as err:
            # the old personality is already released and its info block
            # wiped: put it back (same mode and align, so fsdax/devdax data
            # sits at the same offset again) before reporting the failure
            if not self.replan and self._restore(door):
                err.hint = (err.hint + "; " if err.hint else "") + (
                    f"{self.namespace} was set up as {_label(self.from_mode, self.from_align)} again")
            raise

    def _restore(self, door: SysfsRoot) -> bool:
        inverse = self.inverse()
        try:
            if not inverse.satisfied(door):
                inverse.execute(door)
            return inverse.verify(door) is None
        except PmemctlError:
            return False

    def _execute_live(self, door: SysfsRoot, live: "ReconfigureNamespace") -> None:
        if self.backend == "ndctl":
            _run_ndctl(door, live.ndctl_args(), expect_mode=self.mode)
            return
        if not live.holder_uuid:
            live = replace(live, holder_uuid=str(_uuid.uuid4()))
        writes = live.sysfs_writes()
        # the raw block device is named by the kernel: wipe the one it made
        wipe_at = next(i for i, w in enumerate(writes) if isinstance(w, WipeInfoBlock))
        _run_sysfs(door, writes[:wipe_at], live.recover_writes())
        blockdev = _blockdev_now(door, live.namespace)
        writes[wipe_at] = WipeInfoBlock(f"/dev/{blockdev}", "zeros")
        _run_sysfs(door, writes[wipe_at:], live.recover_writes())

    def _find(self, door: SysfsRoot) -> Optional[str]:
        """The namespace: by its label uuid, else by name (``ndctl
        create-namespace -e`` writes a new uuid to the same namespace)."""
        facts = ns_facts(door, self.namespace)
        known = [u.lower() for u in (self.uuid, self.new_uuid) if u]
        if facts.exists and (not known or (facts.uuid or "") in known):
            return self.namespace
        for uuid in known:
            found = find_by_uuid(door, self.region, uuid)
            if found is not None:
                return found
        if facts.exists and facts.size:
            return self.namespace
        return None

    def satisfied(self, door: SysfsRoot) -> bool:
        return self.verify(door) is None

    def verify(self, door: SysfsRoot) -> Optional[str]:
        name = self._find(door)
        if name is None:
            return f"{self.namespace} has disappeared"
        facts = ns_facts(door, name)
        if facts.mode != self.mode:
            return f"{name} is {facts.mode}, not {self.mode}"
        enabled = facts.holder_bound if facts.holder else facts.ns_bound
        if not enabled:
            return f"{name} is {facts.mode} but not enabled"
        if self.mode in PFN_MODES and self.align and facts.align not in (None, self.align):
            return f"{name} has align {facts.align}, not {self.align}"
        return None

    def inverse(self) -> Action:
        return ReconfigureNamespace(
            region=self.region, namespace=self.namespace, mode=self.from_mode, from_mode=self.mode,
            uuid=self.new_uuid or self.uuid, new_uuid=self.uuid if self.new_uuid else None,  # its old uuid back
            seed="", align=self.from_align, from_align=self.align,
            sector_size=BTT_SECTOR_SIZE if self.from_mode == "sector" else None,
            backend=self.backend, replan=True,
        )

    def state_lines(self, door: SysfsRoot) -> list[str]:
        return [_state_line(door, self._find(door) or self.namespace, None, self.region)]


@dataclass(frozen=True)
class DestroyNamespace(NamespaceAction):
    """Disable, wipe the info block, delete (§5.3 ``destroy-namespace -f``).

    A label-less (io) namespace cannot be deleted: it is left raw and disabled.
    """

    region: str
    namespace: str
    mode: str
    size: int
    uuid: Optional[str] = None
    labeled: bool = True
    holder: str = ""
    holder_bound: bool = False
    ns_bound: bool = False
    backend: str = "sysfs"
    replan: bool = False
    kind: ClassVar[str] = "ns-destroy"

    def describe(self) -> str:
        what = "delete it" if self.labeled else "leave it raw and disabled (label-less: it cannot be deleted)"
        return f"destroy {self.namespace} ({human(self.size)} {self.mode}): wipe its info block and {what}"

    def _live(self, door: SysfsRoot) -> "DestroyNamespace":
        name = self._find(door)
        if name is None:
            raise _Stale(f"{self.namespace} no longer exists")
        facts = ns_facts(door, name)
        live = replace(self, namespace=name, holder=facts.holder, holder_bound=facts.holder_bound,
                       ns_bound=facts.ns_bound)
        if not self.replan and (live.namespace, live.holder, live.holder_bound, live.ns_bound) != (
                self.namespace, self.holder, self.holder_bound, self.ns_bound):
            raise _Stale(f"{self.namespace} changed since the plan was made", hint="run the command again")
        return live

    def sysfs_writes(self) -> list[Write]:
        out = _release_writes(self.namespace, self.holder, self.holder_bound, self.ns_bound)
        out += _wipe_writes(self.namespace, raw_blockdev(self.namespace))
        if self.labeled:
            out.append(Write(nd_dev(self.namespace) + "/size", "0"))
        return out

    def writes(self) -> list[Write]:
        if self.backend == "ndctl":
            return [ndctl_write(ndctl.destroy_args(self.namespace))]
        return self.sysfs_writes()

    def execute(self, door: SysfsRoot) -> None:
        live = self._live(door)
        if self.backend == "ndctl":
            _run_ndctl(door, ndctl.destroy_args(live.namespace))
            return
        writes = live.sysfs_writes()
        wipe_at = next(i for i, w in enumerate(writes) if isinstance(w, WipeInfoBlock))
        recover = [Write(nd_dev(live.namespace) + "/force_raw", "0")]
        _run_sysfs(door, writes[:wipe_at], recover)
        writes[wipe_at] = WipeInfoBlock(f"/dev/{_blockdev_now(door, live.namespace)}", "zeros")
        _run_sysfs(door, writes[wipe_at:], recover)

    def _find(self, door: SysfsRoot) -> Optional[str]:
        facts = ns_facts(door, self.namespace)
        if facts.exists and (not self.uuid or (facts.uuid or "") == self.uuid.lower()):
            return self.namespace
        if self.uuid:
            return find_by_uuid(door, self.region, self.uuid)
        return None

    def satisfied(self, door: SysfsRoot) -> bool:
        return self.verify(door) is None

    def verify(self, door: SysfsRoot) -> Optional[str]:
        name = self._find(door)
        if name is None:
            return None
        facts = ns_facts(door, name)
        if self.labeled:
            if facts.size:
                return f"{name} still has size {facts.size}"
            return None
        if facts.holder or facts.ns_bound:
            return f"{name} is still {'claimed by ' + facts.holder if facts.holder else 'enabled'}"
        return None

    def state_lines(self, door: SysfsRoot) -> list[str]:
        return [_state_line(door, self.namespace, self.uuid, self.region)]


for _cls in (CreateNamespace, ReconfigureNamespace, DestroyNamespace):
    ACTION_TYPES.setdefault(_cls.kind, _cls)


# --------------------------------------------------------------------------
# selecting


def resolve_region(topo: Topology, selector: str) -> Region:
    sel = selector.strip()
    name = f"region{sel}" if sel.isdigit() else sel
    region = topo.region(name)
    if region is None:
        raise find_object_error("region", sel, [r.name for r in topo.regions])
    return region


def match_namespaces(topo: Topology, selector: str) -> list[Namespace]:
    """Namespaces a selector names: ``namespaceX.Y`` / ``X.Y``, a uuid (the
    label uuid ndctl calls raw_uuid, or the info-block uuid it calls uuid),
    or a name (alt_name)."""
    sel = selector.strip()
    name = f"namespace{sel}" if re.fullmatch(r"\d+\.\d+", sel) else sel
    ns = topo.namespace(name)
    if ns is not None:
        return [ns]
    if _UUID_RE.match(sel):
        low = sel.lower()
        return [n for n in topo.namespaces if low in ((n.uuid or "").lower(), (n.holder_uuid or "").lower())]
    # a deleted namespace (size 0) may keep its alt_name: only configured ones have a name
    return [n for n in topo.namespaces if n.alt_name and n.alt_name == sel and n.size]


def resolve_namespace(topo: Topology, selector: str) -> Namespace:
    hits = match_namespaces(topo, selector)
    if len(hits) > 1:
        listing = "; ".join(
            f"{n.name} ({n.region}, {human(n.size)} {n.mode.value}, uuid {n.uuid or n.holder_uuid or '-'})"
            for n in hits
        )
        raise AmbiguousSelector(
            f"{selector!r} matches {len(hits)} namespaces: {listing}",
            hint="select one by its namespaceX.Y name or its uuid",
        )
    if not hits:
        known = [n.name + (f" ({n.alt_name})" if n.alt_name else "") for n in topo.namespaces if n.size]
        raise find_object_error("namespace (by namespaceX.Y, uuid or name)", selector, known)
    return hits[0]


# --------------------------------------------------------------------------
# backends


def choose_backend(door: SysfsRoot, requested: str = "auto") -> str:
    """auto: ndctl when it is installed and the sysroot is ``/``; sysfs otherwise."""
    if requested not in BACKENDS:
        raise UsageError(f"unknown backend {requested!r}", hint="use auto, ndctl or sysfs")
    if requested == "sysfs":
        return "sysfs"
    if requested == "auto":
        return "ndctl" if door.is_host and ndctl.find_ndctl() else "sysfs"
    reason = ndctl.unavailable_reason(door)
    if reason is None:
        return "ndctl"
    if door.kind == "host":
        raise Unsupported(f"--backend ndctl: {reason}", hint="use --backend sysfs or auto")
    if door.kind == "simulated":
        raise Unsupported(f"--backend ndctl cannot run on the simulated tree {door.root}: {reason}",
                          hint="use --backend sysfs or auto")
    raise Unsupported(f"--backend ndctl only works on the running machine (sysroot /), not {door.root}",
                      hint="use --backend sysfs or auto")


# --------------------------------------------------------------------------
# data safety


@dataclass(frozen=True)
class NamespaceUse:
    """Who uses a namespace now."""

    blockdevs: tuple[str, ...] = ()  # pmem0, pmem0p1, ...
    mounts: tuple[tuple[str, str, str], ...] = ()  # (device, mount point, fstype)
    stacked: tuple[tuple[str, str], ...] = ()  # (block device, holder such as dm-0)
    openers: tuple[tuple[str, int, str], ...] = ()  # (device node, pid, process name)
    dax: Optional[DaxDevice] = None
    ram_online: tuple[int, ...] = ()  # online memory blocks of its dax device


def _holder_dir(ns: Namespace, region: Region) -> str:
    return f"{region.path}/{ns.holder}" if ns.holder else ns.path


def block_devices(door: SysfsRoot, ns: Namespace, region: Region) -> list[tuple[str, Optional[str], str]]:
    """(name, major:minor, sysfs dir) of the namespace's block device and its partitions."""
    base = _holder_dir(ns, region) + "/block"
    out: list[tuple[str, Optional[str], str]] = []
    for disk in sorted(door.listdir(base)):
        ddir = f"{base}/{disk}"
        out.append((disk, (door.read_optional(ddir + "/dev") or "").strip() or None, ddir))
        for part in sorted(door.listdir(ddir)):
            if re.fullmatch(re.escape(disk) + r"p?\d+", part) and door.is_dir(f"{ddir}/{part}"):
                pdir = f"{ddir}/{part}"
                out.append((part, (door.read_optional(pdir + "/dev") or "").strip() or None, pdir))
    return out


def read_mounts(door: SysfsRoot) -> list[tuple[str, str, str, str]]:
    """(major:minor, source, mount point, fstype) of every mount, from
    /proc/1/mountinfo (init's view: every mount namespace's mounts start
    there), else /proc/self/mountinfo, under the sysroot (proc(5))."""
    text = None
    for path in ("/proc/1/mountinfo", paths.PROC_MOUNTINFO):
        try:
            text = door.read_all(path)
        except PmemctlError:
            text = None
        if text is not None:
            break
    out: list[tuple[str, str, str, str]] = []
    for line in (text or "").splitlines():
        fields = line.split()
        if len(fields) < 10 or "-" not in fields[6:]:
            continue
        sep = fields.index("-", 6)
        if len(fields) < sep + 3:
            continue
        mnt = fields[4].replace("\\040", " ")
        out.append((fields[2], fields[sep + 2], mnt, fields[sep + 1]))
    return out


def namespace_use(door: SysfsRoot, topo: Topology, ns: Namespace) -> NamespaceUse:
    region = topo.region(ns.region)
    assert region is not None
    devs = block_devices(door, ns, region)
    mounts = read_mounts(door)
    mounted: list[tuple[str, str, str]] = []
    stacked: list[tuple[str, str]] = []
    openers: list[tuple[str, int, str]] = []
    nodes: list[str] = []
    for name, majmin, ddir in devs:
        node = f"/dev/{name}"
        nodes.append(node)
        for dev, source, mnt, fstype in mounts:
            if (majmin is not None and dev == majmin) or source == node:
                mounted.append((node, mnt, fstype))
        for holder in sorted(door.listdir(ddir + "/holders")):
            stacked.append((name, holder))
    dax = topo.dax_device(ns.dax_device) if ns.dax_device else None
    if dax is not None:
        nodes.append(f"/dev/{dax.name}")
    for node in nodes:
        for pid, pname in door.processes_using(node):
            openers.append((node, pid, pname))
    ram: tuple[int, ...] = ()
    if dax is not None and dax.mode == DaxMode.SYSTEM_RAM:
        ram = tuple(b.index for b in topo.blocks_of(dax.name) if b.online)
    return NamespaceUse(tuple(d[0] for d in devs), tuple(mounted), tuple(stacked), tuple(openers), dax, ram)


def describe_ns(ns: Namespace) -> str:
    parts = [human(ns.size), ns.mode.value]
    if ns.blockdev:
        parts.append(f"/dev/{ns.blockdev}")
    if ns.dax_device:
        parts.append(f"/dev/{ns.dax_device}")
    if ns.alt_name:
        parts.append(f"name {ns.alt_name!r}")
    return f"{ns.name} ({', '.join(parts)})"


def safety_checks(pb: PlanBuilder, door: SysfsRoot, topo: Topology, ns: Namespace, verb: str) -> NamespaceUse:
    """Refuse what would lose data that is in use; return the use found."""
    use = namespace_use(door, topo, ns)
    for node, mnt, fstype in use.mounts:
        pb.refuse("mounted", f"{node} is mounted on {mnt} ({fstype}): unmount it before you {verb} {ns.name}")
    for dev, holder in use.stacked:
        pb.refuse("stacked", f"{dev} is claimed by {holder} (device-mapper/md/partition user): "
                             f"remove {holder} before you {verb} {ns.name}")
    if use.openers:
        who = ", ".join(f"{name} (pid {pid}) has {node} open" for node, pid, name in use.openers[:5])
        pb.refuse("in-use", f"{who}; {verb} would pull the data from under it", "--force")
    if use.ram_online and use.dax is not None:
        bs = topo.policy.block_size or 0
        pb.refuse(
            "system-ram",
            f"{use.dax.name} is system RAM with {len(use.ram_online)} block(s) online "
            f"({human(len(use.ram_online) * bs)}) on node {use.dax.target_node}: they are offlined first, "
            "taking that memory from running programs",
            "--force",
        )
    if not (use.mounts or use.stacked or use.openers or use.ram_online):
        pb.passed("in-use", f"{ns.name}: not mounted, not open, not online as system RAM")
    return use


def _release_dax(pb: PlanBuilder, topo: Topology, use: NamespaceUse) -> Optional[str]:
    """Steps that take a system-ram dax device back (offline, unbind kmem,
    wait for the blocks to go); returns the consent text for it."""
    from pmemctl.ops.planner import offline_checks, release_from_kmem

    dev = use.dax
    if dev is None or dev.mode != DaxMode.SYSTEM_RAM:
        return None
    blocks = topo.blocks_of(dev.name)
    online = [b for b in blocks if b.online]
    offline_checks(pb, topo, online)
    release_from_kmem(pb, dev, blocks)
    if online:
        return (f"{human(len(online) * (topo.policy.block_size or 0))} of system RAM on node "
                f"{dev.target_node} will be taken away from running programs")
    return None


def _consent(ns: Namespace, use: NamespaceUse, extra: Optional[str]) -> str:
    text = f"the data on {describe_ns(ns)} will be lost"
    if use.openers:
        text += " under the programs that have it open (" + ", ".join(
            f"{n} pid {p}" for _, p, n in use.openers[:3]) + ")"
    if extra:
        text += f", and {extra}"
    return text


# --------------------------------------------------------------------------
# region facts


def _supported_alignments(door: SysfsRoot, region: Region, mode: str) -> tuple[int, ...]:
    attr = PERSONALITY.get(mode, (None, None, None))[1]
    seed = getattr(region, attr) if attr else None
    if not seed:
        return DEFAULT_SUPPORTED_ALIGNMENTS
    text = door.read_optional(f"{region.path}/{seed}/supported_alignments")
    if not text:
        return DEFAULT_SUPPORTED_ALIGNMENTS
    try:
        return tuple(int(t) for t in text.split())
    except ValueError:
        return DEFAULT_SUPPORTED_ALIGNMENTS


def geometry(door: SysfsRoot, topo: Topology, region: Region, mode: str = "devdax") -> RegionGeometry:
    used = tuple(
        Extent(n.resource, n.size) for n in topo.namespaces
        if n.region == region.name and n.size and n.resource is not None
    )
    available = region.max_available_extent
    if available is None:
        available = region.available_size
    if available is None:
        available = region.size if region.nstype == 4 else 0
    return RegionGeometry(
        name=region.name,
        size=region.size,
        available=available,
        align=region.align or 16 * 1024 * 1024,
        ways=max(len(region.mappings), 1),
        labeled=region.nstype != 4,
        start=region.resource,
        used=used,
        supported_alignments=_supported_alignments(door, region, mode),
    )


def _parse_align(text: Optional[str], mode: str, supported: Sequence[int]) -> Optional[int]:
    if mode not in PFN_MODES:
        if text is not None:
            raise UsageError(f"--align applies to fsdax and devdax, not {mode}")
        return None
    if text is None:
        return DEFAULT_ALIGN if DEFAULT_ALIGN in supported or not supported else min(supported)
    try:
        align = parse_size(text)
    except ValueError as err:
        raise UsageError(str(err)) from err
    if align < 4096 or align & (align - 1):
        raise UsageError(f"--align {text}: must be a power of two of at least 4K")
    if supported and align not in supported:
        raise UsageError(
            f"--align {text} is not supported here",
            hint="supported: " + ", ".join(exact_size(a) for a in supported),
        )
    return align


def _parse_size_arg(text: str, what: str) -> int:
    try:
        value = parse_size(text)
    except ValueError as err:
        raise UsageError(f"{what}: {err}") from err
    if value <= 0:
        raise UsageError(f"{what} must be positive")
    return value


def _region_can_take(region: Region, mode: str) -> None:
    if not region.enabled:
        raise Refused(f"{region.name} is disabled", hint="enable it first: ndctl enable-region " + region.name)
    if mode in PERSONALITY:
        attr = PERSONALITY[mode][1]
        if not getattr(region, attr):
            raise Unsupported(
                f"{region.name} cannot take {mode} namespaces: it offers no {attr} "
                f"(the kernel lacks {'device-dax (dax_pmem)' if mode == 'devdax' else PERSONALITY[mode][0]} support)"
            )


# --------------------------------------------------------------------------
# create


@dataclass(frozen=True)
class CreateRequest:
    region: str
    size: str
    mode: str
    align: Optional[str] = None
    name: Optional[str] = None
    backend: str = "auto"


def plan_create(door: SysfsRoot, topo: Topology, req: CreateRequest) -> Plan:
    from pmemctl.ops.planner import privilege_check

    if req.mode not in MODES:
        raise UsageError(f"unknown mode {req.mode!r}", hint="use " + ", ".join(MODES))
    backend = choose_backend(door, req.backend)
    region = resolve_region(topo, req.region)
    size = _parse_size_arg(req.size, "--size")
    if req.name is not None and (len(req.name) > MAX_NAME or "\n" in req.name):
        raise UsageError(f"--name must be at most {MAX_NAME} characters on one line")
    if region.nstype == 4:
        seeds = [n.name for n in topo.namespaces if n.region == region.name]
        raise Refused(
            f"{region.name} is label-less: it holds one namespace covering the whole region and cannot be "
            "subdivided",
            hint=f"change its mode instead: pmemctl namespace reconfigure {seeds[0] if seeds else 'NS'} "
                 f"--mode {req.mode}",
        )
    if region.read_only:
        raise Refused(f"{region.name} is read-only (read_only=1)")
    _region_can_take(region, req.mode)
    geom = geometry(door, topo, region, req.mode)
    align = _parse_align(req.align, req.mode, geom.supported_alignments)
    pb = PlanBuilder(title=f"create a {human(size)} {req.mode} namespace in {region.name}")
    privilege_check(pb, door)
    verdict = check_size(geom, req.mode, size, align or DEFAULT_ALIGN)
    if verdict.ok:
        pb.passed("size", f"{human(size)} fits {region.name} ({human(geom.available)} free in its largest extent)")
    else:
        nearest = " or ".join(suggestion(s) for s in verdict.suggestions)
        pb.refuse("size", f"--size {req.size}: {verdict.problem}" + (f"; nearest valid: {nearest}" if nearest else ""))
    seed_name = region.namespace_seed
    seed = topo.namespace(seed_name) if seed_name else None
    if seed is None or not (seed.size == 0 and not seed.enabled):
        raise Refused(
            f"{region.name} offers no idle namespace seed (namespace_seed is {seed_name or 'empty'})",
            hint="the label area may be full; destroy an unused namespace first",
        )
    start = geom.predicted_start(size)
    personality_seed = getattr(region, PERSONALITY[req.mode][1]) if req.mode in PERSONALITY else ""
    if req.mode in PFN_MODES and verdict.ok:
        lay = pfn_layout(start or 0, size, align or DEFAULT_ALIGN)
        pb.notes.append(
            f"{req.mode} keeps {human(lay.usable)} usable: {human(lay.offset)} info block and memmap "
            f"(1/64 of the size, --map=dev) at the start" + (f", {human(lay.end_trunc)} cut at the end"
                                                             if lay.end_trunc else "")
        )
        bs = topo.policy.block_size
        if req.mode == "devdax" and bs:
            first, count = ram_of(start or 0, size, align or DEFAULT_ALIGN, bs)
            pb.notes.append(
                f"as system-ram it would give {count} memory block(s) of {exact_size(bs)} = {human(count * bs)}"
                + ("" if start is not None else " (assuming a block-aligned start)")
            )
    if start is not None and verdict.ok:
        pb.notes.append(f"the kernel is expected to place it at {start:#x} (the first free extent that fits)")
    pb.targets.append(seed_name)  # type: ignore[arg-type]
    ns_path = nd_dev(seed_name)  # type: ignore[arg-type]
    pb.actions.append(CreateNamespace(
        region=region.name, namespace=seed_name, mode=req.mode, size=size,  # type: ignore[arg-type]
        uuid=str(_uuid.uuid4()), holder_uuid=str(_uuid.uuid4()) if req.mode != "raw" else "",
        seed=personality_seed or "", align=align, name=req.name,
        sector_size=BTT_SECTOR_SIZE if req.mode == "sector" else None,
        has_alt_name=door.exists(ns_path + "/alt_name"),
        has_sector_size=bool((door.read_optional(ns_path + "/sector_size") or "").strip()),
        backend=backend,
    ))
    return pb.build()


# --------------------------------------------------------------------------
# reconfigure


@dataclass(frozen=True)
class NsReconfigureRequest:
    selector: str
    mode: str
    align: Optional[str] = None
    backend: str = "auto"


def _reconfigure_step(door: SysfsRoot, topo: Topology, ns: Namespace, mode: str, align: Optional[int],
                      backend: str) -> ReconfigureNamespace:
    region = topo.region(ns.region)
    assert region is not None
    seed = getattr(region, PERSONALITY[mode][1]) if mode in PERSONALITY else ""
    holder_bound = bool(ns.holder) and door.readlink(f"{region.path}/{ns.holder}/driver") is not None
    ns_bound = not ns.holder and door.readlink(ns.path + "/driver") is not None
    return ReconfigureNamespace(
        region=region.name, namespace=ns.name, mode=mode, from_mode=ns.mode.value, uuid=ns.uuid,
        new_uuid=str(_uuid.uuid4()) if ns.uuid else None, holder=ns.holder or "", holder_bound=holder_bound, ns_bound=ns_bound, seed=seed or "",
        holder_uuid=str(_uuid.uuid4()) if mode != "raw" else "", align=align,
        from_align=ns.align if ns.mode.value in PFN_MODES else None,
        sector_size=BTT_SECTOR_SIZE if mode == "sector" else None, backend=backend,
    )


def plan_reconfigure_namespace(door: SysfsRoot, topo: Topology, req: NsReconfigureRequest) -> Plan:
    from pmemctl.ops.planner import privilege_check

    if req.mode not in MODES:
        raise UsageError(f"unknown mode {req.mode!r}", hint="use " + ", ".join(MODES)
                         + " (for system RAM: pmemctl reconfigure NS --mode system-ram)")
    backend = choose_backend(door, req.backend)
    ns = resolve_namespace(topo, req.selector)
    region = topo.region(ns.region)
    assert region is not None
    if ns.size == 0:
        raise Refused(f"{ns.name} is not configured (size 0): there is nothing to reconfigure",
                      hint=f"create one: pmemctl namespace create --region {ns.region} --size SIZE --mode {req.mode}")
    _region_can_take(region, req.mode)
    align = _parse_align(req.align, req.mode, _supported_alignments(door, region, req.mode))
    pb = PlanBuilder(title=f"reconfigure {ns.name} from {ns.mode.value} to {req.mode}")
    if ns.mode.value == req.mode and (req.align is None or ns.align in (None, align)):
        pb.already.append(f"{ns.name} is already {_label(ns.mode.value, ns.align)}")
        return pb.build()
    privilege_check(pb, door)
    if req.mode in PFN_MODES and ns.resource is not None and ns.resource % (16 * 1024 * 1024):
        pb.warn("alignment", f"{ns.name} starts at {ns.resource:#x}, not 16M-aligned: ndctl would need --force")
    if req.mode in PFN_MODES:
        lay = pfn_layout(ns.resource or 0, ns.size, align or DEFAULT_ALIGN)
        if lay.usable <= 0:
            pb.refuse("size", f"{ns.name} ({human(ns.size)}) is too small for {req.mode}: the info block and "
                              f"memmap take {human(lay.offset)}")
        else:
            pb.notes.append(f"as {req.mode} it keeps {human(lay.usable)} usable ({human(lay.reserved)} for the "
                            "info block and memmap)")
    use = safety_checks(pb, door, topo, ns, "reconfigure")
    extra = _release_dax(pb, topo, use)
    pb.destructive = True
    pb.consent = _consent(ns, use, extra)
    pb.targets.append(ns.name)
    pb.actions.append(_reconfigure_step(door, topo, ns, req.mode, align, backend))
    return pb.build()


# --------------------------------------------------------------------------
# destroy


@dataclass(frozen=True)
class DestroyRequest:
    selector: str
    backend: str = "auto"


def plan_destroy(door: SysfsRoot, topo: Topology, req: DestroyRequest) -> Plan:
    from pmemctl.ops.planner import privilege_check

    backend = choose_backend(door, req.backend)
    ns = resolve_namespace(topo, req.selector)
    region = topo.region(ns.region)
    assert region is not None
    labeled = ns.nstype != 4
    pb = PlanBuilder(title=f"destroy {ns.name}")
    holder_bound = bool(ns.holder) and door.readlink(f"{region.path}/{ns.holder}/driver") is not None
    ns_bound = not ns.holder and door.readlink(ns.path + "/driver") is not None
    if labeled and ns.size == 0:
        pb.already.append(f"{ns.name} is not configured (size 0): nothing to destroy")
        return pb.build()
    if not labeled and not ns.holder and not ns_bound:
        pb.already.append(f"{ns.name} (label-less) is already raw and disabled")
        return pb.build()
    privilege_check(pb, door)
    use = safety_checks(pb, door, topo, ns, "destroy")
    extra = _release_dax(pb, topo, use)
    pb.destructive = True
    pb.consent = _consent(ns, use, extra)
    pb.targets.append(ns.name)
    if not labeled:
        pb.notes.append(f"{region.name} is label-less: {ns.name} covers the whole region and stays (raw, disabled)")
    pb.actions.append(DestroyNamespace(
        region=region.name, namespace=ns.name, mode=ns.mode.value, size=ns.size, uuid=ns.uuid, labeled=labeled,
        holder=ns.holder or "", holder_bound=holder_bound, ns_bound=ns_bound, backend=backend,
    ))
    return pb.build()


# --------------------------------------------------------------------------
# the size planner


@dataclass(frozen=True)
class SizePlanRequest:
    region: str
    system_ram: str
    align: Optional[str] = None


@dataclass(frozen=True)
class SizePlan:
    region: Region
    geometry: RegionGeometry
    plan: RamPlan

    @property
    def command(self) -> Optional[str]:
        if self.plan.ns_size is None:
            return None
        cmd = f"pmemctl namespace create --region {self.region.name} --mode devdax --size {exact_size(self.plan.ns_size)}"
        if self.plan.align != DEFAULT_ALIGN:
            cmd += f" --align {exact_size(self.plan.align)}"
        return cmd


def plan_size(door: SysfsRoot, topo: Topology, req: SizePlanRequest) -> SizePlan:
    """Which namespace size yields exactly ``system_ram`` once converted."""
    region = resolve_region(topo, req.region)
    bs = topo.policy.block_size
    if bs is None:
        raise Unsupported("this kernel has no memory hotplug (/sys/devices/system/memory is missing): "
                          "a namespace cannot become system RAM here")
    ram = _parse_size_arg(req.system_ram, "--system-ram")
    if ram % bs:
        down, up = ram // bs * bs, (ram // bs + 1) * bs
        near = " or ".join(exact_size(s) for s in (down, up) if s > 0)
        raise UsageError(
            f"--system-ram {req.system_ram} is not a whole number of {exact_size(bs)} memory blocks",
            hint=f"nearest: {near}",
        )
    if region.nstype == 4:
        raise Refused(f"{region.name} is label-less and cannot be subdivided",
                      hint="its one namespace gives what it gives: see 'pmemctl namespace plan' on a labelled region")
    _region_can_take(region, "devdax")
    geom = geometry(door, topo, region, "devdax")
    align = _parse_align(req.align, "devdax", geom.supported_alignments) or DEFAULT_ALIGN
    result = plan_ram(geom, ram, bs, align)
    return SizePlan(region, geom, result)


# --------------------------------------------------------------------------
# namespace -> devdax -> system-ram, as one plan


def plan_namespace_to_system_ram(door: SysfsRoot, topo: Topology, req: Any, backend: str = "auto") -> Optional[Plan]:
    """``pmemctl reconfigure NS --mode system-ram`` for a namespace that is
    not devdax yet: reconfigure it to devdax, then hand its dax device to
    kmem and online it, as one unit (applied, or rolled back, together).

    Returns None when the selector does not name such a namespace (the
    dax-device planner handles it).  ``req`` is planner.ReconfigureRequest.
    """
    from pmemctl.ops.planner import _plan_to_system_ram, privilege_check

    if req.mode != "system-ram":
        return None
    sel = req.selector.strip()
    if sel == "all" or sel.startswith("/") or sel.startswith("dax"):
        return None
    hits = match_namespaces(topo, sel)
    if not hits:
        return None
    if len(hits) > 1:
        resolve_namespace(topo, sel)  # raises AmbiguousSelector with the candidates
    ns = hits[0]
    if ns.mode == NamespaceMode.DEVDAX:
        return None
    if ns.size == 0:
        raise Refused(f"{ns.name} is not configured (size 0)",
                      hint=f"create one: pmemctl namespace create --region {ns.region} --mode devdax --size SIZE")
    backend = choose_backend(door, backend)
    region = topo.region(ns.region)
    assert region is not None
    _region_can_take(region, "devdax")
    align = _parse_align(None, "devdax", _supported_alignments(door, region, "devdax")) or DEFAULT_ALIGN
    pb = PlanBuilder(title=f"reconfigure {ns.name} to system-ram (via devdax)")
    pb.notes.append(f"selected {ns.name} ({ns.mode.value}); it becomes devdax first, then system RAM")
    privilege_check(pb, door)
    use = safety_checks(pb, door, topo, ns, "reconfigure")
    pb.begin_unit(ns.name)
    pb.targets.append(ns.name)
    pb.actions.append(_reconfigure_step(door, topo, ns, "devdax", align, backend))
    if ns.resource is None:
        pb.refuse("resource", f"the physical address of {ns.name} is unknown (resource is readable by root only)")
        return pb.build()
    lay = pfn_layout(ns.resource, ns.size, align)
    if lay.usable <= 0:
        pb.refuse("size", f"{ns.name} ({human(ns.size)}) is too small for devdax")
        return pb.build()
    future = DaxDevice(
        name=dax_name(ns.name), path=f"{region.path}/{region.dax_seed or 'dax'}/{dax_name(ns.name)}",
        region_id=region.id, region_path=None, size=lay.usable, resource=lay.data_start, align=align,
        target_node=ns.target_node if ns.target_node is not None else region.target_node,
        numa_node=ns.numa_node, driver="device_dax", dev=None, source="nvdimm", namespace=ns.name,
        mappings=(), memmap_on_memory=None, blocks=(),
    )
    pb.notes.append(f"as devdax: {future.name}, {human(lay.usable)} at {lay.data_start:#x}")
    _plan_to_system_ram(pb, door, topo, future, req)
    pb.destructive = True
    pb.consent = _consent(ns, use, f"it becomes system RAM ({future.name})")
    return pb.build()


# --------------------------------------------------------------------------
# services (one per command)


def create(door: SysfsRoot, req: CreateRequest, opts: Any) -> Any:
    from pmemctl.ops.change import run_plan

    return run_plan(door, plan_create(door, discover(door, with_blocks=False), req), opts)


def reconfigure(door: SysfsRoot, req: NsReconfigureRequest, opts: Any) -> Any:
    from pmemctl.ops.change import run_plan

    return run_plan(door, plan_reconfigure_namespace(door, discover(door), req), opts)


def destroy(door: SysfsRoot, req: DestroyRequest, opts: Any) -> Any:
    from pmemctl.ops.change import run_plan

    return run_plan(door, plan_destroy(door, discover(door), req), opts)


def size_plan(door: SysfsRoot, req: SizePlanRequest) -> SizePlan:
    return plan_size(door, discover(door, with_blocks=False), req)


def nd_snapshot(door: SysfsRoot) -> Any:  # pragma: no cover - convenience for callers
    return read_nd(door)
