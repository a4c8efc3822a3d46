"""Namespace steps: create, reconfigure and destroy a namespace, with either backend.

Two backends do the same steps (kernel-abi.md §3, §5.2, §5.3, §7.7):

* ``sysfs``: the write sequences libndctl performs (seeds, uuid, size,
  sector size, the pfn/dax/btt personality, enable), through the door;
* ``ndctl``: the real ndctl, one command per step (ops/backends/ndctl.py).

A step shows the same description with both; only its exact writes differ
(sysfs writes, or the ndctl command line).  Both are verified by reading
sysfs back (:func:`pmemctl.model.nd.read_namespace_now`), so both give the
same outcomes.  Before it writes, a step checks that the machine is as the
plan saw it (seeds, holder); if not, it does not start (``_Stale``).
"""

from __future__ import annotations

import uuid as _uuid
from dataclasses import dataclass, replace
from typing import ClassVar, Optional

from pmemctl.errors import PmemctlError
from pmemctl.model.nd import find_by_uuid, read_namespace_now
from pmemctl.ops.actions.base import Action, JournalPolicy, Problem, ProblemKind, Write, WriteFn, not_done
from pmemctl.ops.actions.nd_writes import (
    BTT_SECTOR_SIZE,
    NS_SECTOR_SIZE,
    Stale,
    WipeInfoBlock,
    clear,
    mode_label,
    ndctl_write,
    personality_writes,
    region_seed,
    release_writes,
    run_ndctl,
    run_sysfs,
    state_line,
    wipe_as_shown,
    wipe_writes,
)
from pmemctl.ops.backends import ndctl
from pmemctl.ops.sizes import PFN_MODES
from pmemctl.sysfs import abi, paths
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.units import exact_size, format_size


@dataclass(frozen=True)
class NamespaceAction(Action):
    """Common part of the namespace steps: more than plain writes (a device
    wipe, or one ndctl command), so each carries out its own ``apply``."""

    destructive: ClassVar[bool] = True
    journal: ClassVar[JournalPolicy] = JournalPolicy.SYNC  # labels survive a reboot: fsync the intent



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
        text = f"create {self.namespace} in {self.region}: {exact_size(self.size)} {mode_label(self.mode, self.align)}"
        if self.name:
            text += f", name {self.name!r}"
        return text

    def sysfs_writes(self) -> list[Write]:
        ns = paths.nd_device(self.namespace)
        out: list[Write] = [Write(ns + "/uuid", self.uuid)]
        if self.has_alt_name:
            out.append(Write(ns + "/alt_name", self.name) if self.name else clear(ns + "/alt_name"))
        out.append(Write(ns + "/size", hex(self.size)))
        if self.has_sector_size:
            out.append(Write(ns + "/sector_size", str(NS_SECTOR_SIZE)))
        out.extend(personality_writes(self.namespace, self.mode, self.seed, self.holder_uuid, self.align,
                                       self.sector_size))
        return out

    def recover_writes(self) -> list[Write]:
        ns = paths.nd_device(self.namespace)
        out: list[Write] = []
        if self.seed:
            out.append(clear(paths.nd_device(self.seed) + "/namespace"))
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
            raise Stale(f"{self.region}'s namespace seed is now {seed_now or 'none'}, not {self.namespace}: "
                         "the region changed since the plan was made", hint="run the command again")
        facts = read_namespace_now(door, self.namespace)
        if facts is not None and (facts.size or facts.ns_bound):
            raise Stale(f"{self.namespace} is no longer an idle seed", hint="run the command again")
        if self.seed:
            attr = abi.PERSONALITIES[self.mode].seed_attr
            now = region_seed(door, self.region, attr)
            if now != self.seed:
                raise Stale(f"{self.region}'s {attr} is now {now or 'none'}, not {self.seed}",
                             hint="run the command again")

    def apply(self, door: SysfsRoot, write: WriteFn) -> None:
        self._check_fresh(door)
        if self.backend == "ndctl":
            run_ndctl(door, self.ndctl_args(), expect_mode=self.mode)
            return
        run_sysfs(door, write, self.sysfs_writes(), self.recover_writes())

    def _created(self, door: SysfsRoot) -> Optional[str]:
        facts = read_namespace_now(door, self.namespace)
        if facts is not None and (facts.uuid or "") == self.uuid.lower():
            return self.namespace
        return find_by_uuid(door, self.region, self.uuid)

    def verify(self, door: SysfsRoot) -> Optional[Problem]:
        name = self._created(door)
        if name is None:
            return not_done(f"no namespace with uuid {self.uuid} appeared in {self.region}")
        facts = read_namespace_now(door, name)
        if facts is None:
            return Problem(ProblemKind.GONE, f"{name} has disappeared")
        if facts.size != self.size:
            return not_done(f"{name} has size {facts.size}, not {self.size}")
        if facts.mode.value != self.mode:
            return not_done(f"{name} is {facts.mode.value}, not {self.mode}")
        if not facts.enabled:
            return not_done(f"{name} was configured but is not enabled (no driver accepted it)")
        return None

    def inverse(self) -> Action:
        return DestroyNamespace(
            region=self.region, namespace=self.namespace, mode=self.mode, size=self.size, uuid=self.uuid,
            labeled=True, holder=self.seed, holder_bound=bool(self.seed), ns_bound=not self.seed,
            backend=self.backend, replan=True,
        )

    def state_lines(self, door: SysfsRoot) -> list[str]:
        return [state_line(door, self.namespace, self.uuid, self.region)]



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
        return (f"reconfigure {self.namespace} from {mode_label(self.from_mode, self.from_align)} to "
                f"{mode_label(self.mode, self.align)} (wipes its info block)")

    def _live(self, door: SysfsRoot) -> ReconfigureNamespace:
        """This step as the machine is now: rollback steps adapt, planned steps
        must find the machine as planned."""
        name = self._find(door) or self.namespace
        facts = read_namespace_now(door, name)
        if facts is None:
            raise Stale(f"{self.namespace} no longer exists")
        seed = self.seed
        if self.mode != "raw":
            seed_attr = abi.PERSONALITIES[self.mode].seed_attr
            now = region_seed(door, self.region, seed_attr)
            if self.replan or not seed:
                seed = now
            elif now != seed:
                raise Stale(f"{self.region}'s {seed_attr} is now {now or 'none'}, not {seed}",
                             hint="run the command again")
            if not seed:
                raise Stale(f"{self.region} offers no {seed_attr}: it cannot take {self.mode}")
        live = replace(self, namespace=name, holder=facts.holder or "", holder_bound=facts.holder_bound,
                       ns_bound=facts.ns_bound, seed=seed)
        if not self.replan and (live.holder, live.holder_bound, live.ns_bound) != (
                self.holder, self.holder_bound, self.ns_bound):
            raise Stale(f"{self.namespace} changed since the plan was made "
                         f"(holder {facts.holder or 'none'})", hint="run the command again")
        return live

    def sysfs_writes(self) -> list[Write]:
        out = release_writes(self.namespace, self.holder, self.holder_bound, self.ns_bound)
        out += wipe_writes(self.namespace, abi.raw_blockdev(self.namespace))
        if self.new_uuid:
            out.append(Write(paths.nd_device(self.namespace) + "/uuid", self.new_uuid))
        out += personality_writes(self.namespace, self.mode, self.seed or f"<{self.mode} seed>",
                                   self.holder_uuid or "<new uuid>", self.align, self.sector_size)
        return out

    def recover_writes(self) -> list[Write]:
        ns = paths.nd_device(self.namespace)
        out: list[Write] = [Write(ns + "/force_raw", "0")]
        if self.seed:
            out += [clear(paths.nd_device(self.seed) + "/namespace"), clear(ns + "/holder_class")]
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

    def apply(self, door: SysfsRoot, write: WriteFn) -> None:
        live = self._live(door)
        try:
            self._apply_live(door, write, live)
        except PmemctlError as err:
            # the old personality is already released and its info block
            # wiped: put it back (same mode and align, so fsdax/devdax data
            # sits at the same offset again) before reporting the failure
            if not self.replan and self._restore(door, write):
                err.hint = (err.hint + "; " if err.hint else "") + (
                    f"{self.namespace} was set up as {mode_label(self.from_mode, self.from_align)} again")
            raise

    def _restore(self, door: SysfsRoot, write: WriteFn) -> bool:
        inverse = self.inverse()
        try:
            if not inverse.satisfied(door):
                inverse.apply(door, write)
            return inverse.verify(door) is None
        except PmemctlError:
            return False

    def _apply_live(self, door: SysfsRoot, write: WriteFn, live: ReconfigureNamespace) -> None:
        if self.backend == "ndctl":
            run_ndctl(door, live.ndctl_args(), expect_mode=self.mode)
            return
        if not live.holder_uuid:
            live = replace(live, holder_uuid=str(_uuid.uuid4()))
        writes = live.sysfs_writes()
        # the raw block device is named by the kernel: wipe the one it made
        wipe_at = next(i for i, w in enumerate(writes) if isinstance(w, WipeInfoBlock))
        run_sysfs(door, write, writes[:wipe_at], live.recover_writes())
        writes[wipe_at] = wipe_as_shown(door, live.namespace, writes[wipe_at], strict=not self.replan)
        run_sysfs(door, write, writes[wipe_at:], live.recover_writes())

    def _find(self, door: SysfsRoot) -> Optional[str]:
        """The namespace: by its label uuid, else by name (``ndctl
        create-namespace -e`` writes a new uuid to the same namespace)."""
        facts = read_namespace_now(door, self.namespace)
        known = [u.lower() for u in (self.uuid, self.new_uuid) if u]
        if facts is not None and (not known or (facts.uuid or "") in known):
            return self.namespace
        for uuid in known:
            found = find_by_uuid(door, self.region, uuid)
            if found is not None:
                return found
        if facts is not None and facts.size:
            return self.namespace
        return None

    def verify(self, door: SysfsRoot) -> Optional[Problem]:
        name = self._find(door)
        if name is None:
            return Problem(ProblemKind.GONE, f"{self.namespace} has disappeared")
        facts = read_namespace_now(door, name)
        if facts is None:
            return Problem(ProblemKind.GONE, f"{self.namespace} has disappeared")
        if facts.mode.value != self.mode:
            return not_done(f"{name} is {facts.mode.value}, not {self.mode}")
        if not facts.enabled:
            return not_done(f"{name} is {facts.mode.value} but not enabled")
        if self.mode in PFN_MODES and self.align and facts.align not in (None, self.align):
            return not_done(f"{name} has align {facts.align}, not {self.align}")
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
        return [state_line(door, self._find(door) or self.namespace, None, self.region)]


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
        return f"destroy {self.namespace} ({format_size(self.size)} {self.mode}): wipe its info block and {what}"

    def _live(self, door: SysfsRoot) -> DestroyNamespace:
        name = self._find(door)
        if name is None:
            raise Stale(f"{self.namespace} no longer exists")
        facts = read_namespace_now(door, name)
        if facts is None:
            raise Stale(f"{self.namespace} no longer exists")
        live = replace(self, namespace=name, holder=facts.holder or "", holder_bound=facts.holder_bound,
                       ns_bound=facts.ns_bound)
        if not self.replan and (live.namespace, live.holder, live.holder_bound, live.ns_bound) != (
                self.namespace, self.holder, self.holder_bound, self.ns_bound):
            raise Stale(f"{self.namespace} changed since the plan was made", hint="run the command again")
        return live

    def sysfs_writes(self) -> list[Write]:
        out = release_writes(self.namespace, self.holder, self.holder_bound, self.ns_bound)
        out += wipe_writes(self.namespace, abi.raw_blockdev(self.namespace))
        if self.labeled:
            out.append(Write(paths.nd_device(self.namespace) + "/size", "0"))
        return out

    def writes(self) -> list[Write]:
        if self.backend == "ndctl":
            return [ndctl_write(ndctl.destroy_args(self.namespace))]
        return self.sysfs_writes()

    def apply(self, door: SysfsRoot, write: WriteFn) -> None:
        live = self._live(door)
        if self.backend == "ndctl":
            run_ndctl(door, ndctl.destroy_args(live.namespace))
            return
        writes = live.sysfs_writes()
        wipe_at = next(i for i, w in enumerate(writes) if isinstance(w, WipeInfoBlock))
        recover = [Write(paths.nd_device(live.namespace) + "/force_raw", "0")]
        run_sysfs(door, write, writes[:wipe_at], recover)
        try:
            writes[wipe_at] = wipe_as_shown(door, live.namespace, writes[wipe_at], strict=not self.replan)
        except Stale:
            run_sysfs(door, write, recover)  # leave force_raw as it was
            raise
        run_sysfs(door, write, writes[wipe_at:], recover)

    def _find(self, door: SysfsRoot) -> Optional[str]:
        facts = read_namespace_now(door, self.namespace)
        if facts is not None and (not self.uuid or (facts.uuid or "") == self.uuid.lower()):
            return self.namespace
        if self.uuid:
            return find_by_uuid(door, self.region, self.uuid)
        return None

    def verify(self, door: SysfsRoot) -> Optional[Problem]:
        name = self._find(door)
        if name is None:
            return None
        facts = read_namespace_now(door, name)
        if facts is None:
            return None
        if self.labeled:
            if facts.size:
                return not_done(f"{name} still has size {facts.size}")
            return None
        if facts.holder or facts.ns_bound:
            return not_done(f"{name} is still {'claimed by ' + facts.holder if facts.holder else 'enabled'}")
        return None

    def state_lines(self, door: SysfsRoot) -> list[str]:
        return [state_line(door, self.namespace, self.uuid, self.region)]
