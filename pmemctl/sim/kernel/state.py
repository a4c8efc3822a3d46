"""The simulated kernel's own state: what a real kernel keeps in memory or on
the media, and a tree of sysfs files cannot show.

* ``.pmemctl-sim/kernel-state.json`` (:func:`load_kernel_state`): the dax
  drivers' dynamic id lists (``dax_ids``), the devices kmem could not give
  back (``stranded``, ``stranded_kmem``), the nodes whose HMAT access classes
  are gone (``hmat_unregistered``);
* ``.pmemctl-sim/nd-state.json`` (:func:`load_nd_state`): the pfn/dax/btt
  info blocks on the namespaces' media (``info_blocks``) and the boot-wide
  disk sequence counter (``diskseq``);
* ``.pmemctl-sim/holders.json`` (:func:`holders`): processes declared as
  holding a device node open (read only).

The file formats are part of the simulated tree and do not change.
"""

from __future__ import annotations

import os
import posixpath
from typing import Any, Callable, Iterable, Optional

from pmemctl.sim.kernel.confined import load_json, save_json
from pmemctl.sim.objects import SUPPORTED_ALIGNMENTS
from pmemctl.sim.tree import MARKER_DIR, TreeWriter
from pmemctl.sysfs import abi, paths
from pmemctl.sysfs.door import shown_name

STATE_FILE = "kernel-state.json"
ND_STATE_FILE = "nd-state.json"
HOLDERS_FILE = "holders.json"


def _marker_file(root: str | os.PathLike[str], name: str) -> str:
    return os.path.join(os.fspath(root), MARKER_DIR, name)


def _save_json(root: str | os.PathLike[str], name: str, data: Any) -> None:
    save_json(root, _marker_file(root, name), data)


# ---------------------------------------------------------------- kernel-state.json


def load_kernel_state(root: str | os.PathLike[str], boot_kmem: Callable[[], Iterable[str]]) -> dict[str, Any]:
    """``kernel-state.json``; before the first change, the state the machine
    booted with: a device the scenario boots on kmem got there by new_id
    (daxctl or a boot-time rule), so kmem's id list starts with ``boot_kmem()``."""
    try:
        return dict(load_json(_marker_file(root, STATE_FILE)))
    except FileNotFoundError:
        kmem_ids = list(boot_kmem())
        return {"dax_ids": {"kmem": kmem_ids} if kmem_ids else {}, "stranded": []}


def save_kernel_state(root: str | os.PathLike[str], state: dict[str, Any]) -> None:
    _save_json(root, STATE_FILE, state)


# -------------------------------------------------------------------- holders.json


def holders(root: str | os.PathLike[str], devnode: str) -> list[tuple[int, str]]:
    """(pid, name) of the processes ``holders.json`` declares as using ``devnode``."""
    try:
        declared = load_json(_marker_file(root, HOLDERS_FILE))
    except FileNotFoundError:
        return []
    return [(int(h["pid"]), shown_name(str(h["name"]))) for h in declared if h.get("path") == devnode]


# ------------------------------------------------------------ nd-state.json (media)


def load_nd_state(root: str | os.PathLike[str]) -> dict[str, Any]:
    """``nd-state.json``: ``info_blocks`` maps a namespace's kernel path to
    the pfn/dax/btt info block its media carries (what the kernel reads back
    when the namespace is enabled again); before the first change, the info
    blocks of the tree as materialised."""
    try:
        return dict(load_json(_marker_file(root, ND_STATE_FILE)))
    except FileNotFoundError:
        return {"info_blocks": info_blocks_of_tree(root)}


def save_nd_state(root: str | os.PathLike[str], state: dict[str, Any]) -> None:
    _save_json(root, ND_STATE_FILE, state)


def ensure_nd_state(root: str | os.PathLike[str]) -> None:
    """Write nd-state.json from the tree if it does not exist yet (the media
    as built, before the first change)."""
    if not os.path.exists(_marker_file(root, ND_STATE_FILE)):
        save_nd_state(root, load_nd_state(root))


def info_blocks_of_tree(root: str | os.PathLike[str]) -> dict[str, Any]:
    """A tree as materialised: every namespace claimed by a pfn/dax/btt has
    that device's info block on its media."""
    tree = TreeWriter(root)
    out: dict[str, Any] = {}
    for name in tree.listdir(paths.ND_DEVICES):
        personality = abi.personality_of_holder(name)  # pfnR.N, daxR.N, bttR.N
        if personality is None:
            continue
        kind = personality.holder_prefix
        kp = tree.resolve_link(f"{paths.ND_DEVICES}/{name}")
        if kp is None:
            continue

        def read(attr: str, kp: str = kp) -> str:
            try:
                return tree.read(f"{kp}/{attr}")
            except OSError:
                return ""

        ns = read("namespace")
        uuid = read("uuid")
        if not ns or not uuid:
            continue
        info: dict[str, Any] = {"kind": kind, "uuid": uuid}
        if kind == "btt":
            info["sector_size"] = abi.parse_selected(read("sector_size"))
        else:
            info["mode"] = read("mode") or "pmem"
            info["align"] = int(read("align") or SUPPORTED_ALIGNMENTS[1])
        out[f"{posixpath.dirname(kp)}/{ns}"] = info
    return out


def info_block(root: str | os.PathLike[str], ns_kpath: str) -> Optional[dict[str, Any]]:
    """The info block on the media of the namespace at ``ns_kpath`` (None: none)."""
    found = load_nd_state(root).get("info_blocks", {}).get(ns_kpath)
    return dict(found) if found else None


def record_info_block(root: str | os.PathLike[str], ns_kpath: str, **info: Any) -> None:
    """A driver wrote an info block on the namespace's media."""
    state = load_nd_state(root)
    state.setdefault("info_blocks", {})[ns_kpath] = info
    save_nd_state(root, state)


def forget_info_block(root: str | os.PathLike[str], ns_kpath: str) -> None:
    """The info block was zeroed (ndctl writes zeros over the first 8 KiB of
    the raw block device) or the namespace's space was freed."""
    state = load_nd_state(root)
    if state.get("info_blocks", {}).pop(ns_kpath, None) is not None:
        save_nd_state(root, state)


__all__ = [
    "HOLDERS_FILE",
    "ND_STATE_FILE",
    "STATE_FILE",
    "ensure_nd_state",
    "forget_info_block",
    "holders",
    "info_block",
    "info_blocks_of_tree",
    "load_kernel_state",
    "load_nd_state",
    "record_info_block",
    "save_kernel_state",
    "save_nd_state",
]
