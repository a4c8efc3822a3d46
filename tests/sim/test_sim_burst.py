"""The simulated kernel's per-write cost (issue 14) without a file that reads wrong.

Inside a burst (one plan applied: ``SysfsRoot.burst``, which the executor
opens) node meminfo, /proc/meminfo and /proc/zoneinfo are written once at the
end instead of after every block; a read of one of them through the door,
an injected offline hang and the burst's end bring them up to date, and
another process sees them at most ``SETTLE_NS`` behind.  Outside a burst
every write leaves the tree as the kernel shows it.  A block's ``state``,
``online`` and ``valid_zones`` are replaced by links to one file per value,
which no writer then writes through.
"""

from __future__ import annotations

import errno
import gc
import os
import random
from pathlib import Path

import pytest

from pmemctl.errors import KernelError, OutsideSysroot
from pmemctl.model.discover import discover
from pmemctl.ops.executor import ApplyOptions, Executor
from pmemctl.ops.plan.blocks import plan_offline
from pmemctl.ops.requests import BlockRequest
from pmemctl.ops.services import OFFLINE_FIELDS
from pmemctl.sim import layout, objects
from pmemctl.sim.build import materialise
from pmemctl.sim.kernel import SimulatedKernel, door, faults
from pmemctl.sim.kernel.confined import ConfinedTreeWriter
from pmemctl.sim.scenario import load_scenario
from pmemctl.sim.tree import MODE_RW, TreeWriter
from pmemctl.sysfs import paths

DERIVED = ("proc/meminfo", "proc/zoneinfo", "sys/devices/system/node/node0/meminfo",
           "sys/devices/system/node/node1/meminfo")
DAX0 = range(33, 63)  # qemu-nvdimm's dax0.0 blocks, online at the system-ram stage


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """Two identical system-ram trees: one changed in a burst, one write at a time."""
    trees = tuple(materialise(load_scenario("qemu-nvdimm", {"stage": "system-ram"}), tmp_path / n) for n in "ab")
    return trees  # type: ignore[return-value]


def derived(root: Path) -> dict[str, bytes]:
    return {rel: (root / rel).read_bytes() for rel in DERIVED if (root / rel).exists()}


def offline(k: SimulatedKernel, blocks: range) -> None:
    for i in blocks:
        k.write(f"{paths.memory_block(i)}/state", "offline")


def test_outside_a_burst_every_write_leaves_the_tree_right(pair):
    a, b = pair
    before = derived(a)
    k = SimulatedKernel(a)
    offline(k, range(62, 61, -1))
    assert derived(a) != before  # written at once, not deferred
    k.write(f"{paths.memory_block(62)}/state", "online_movable")
    assert derived(a) == before


def test_a_burst_writes_the_derived_files_once_and_right(pair, monkeypatch):
    a, b = pair
    monkeypatch.setattr(door, "SETTLE_NS", 10**15)  # no settling by time in this test
    ka, kb = SimulatedKernel(a), SimulatedKernel(b)
    stale = derived(a)
    with ka.burst():
        offline(ka, range(62, 40, -1))
        offline(kb, range(62, 40, -1))
        assert derived(a) == stale  # not rewritten per block ...
        # ... but a read through the door sees them as the blocks are now
        assert ka.read("/proc/meminfo") == (b / "proc/meminfo").read_text().strip()
        assert derived(a)["proc/meminfo"] == derived(b)["proc/meminfo"]
        offline(ka, range(40, 33, -1))
        offline(kb, range(40, 33, -1))
    assert derived(a) == derived(b)  # the burst's end wrote them all


def test_inside_a_burst_another_process_sees_them_at_most_settle_ns_behind(pair, monkeypatch):
    a, b = pair
    monkeypatch.setattr(door, "SETTLE_NS", 0)
    ka, kb = SimulatedKernel(a), SimulatedKernel(b)
    with ka.burst():
        for i in range(62, 50, -1):
            offline(ka, range(i, i - 1, -1))
            offline(kb, range(i, i - 1, -1))
            assert derived(a) == derived(b)


def test_a_burst_that_polls_instead_of_writing_brings_them_up_to_date(pair, monkeypatch):
    a, b = pair
    monkeypatch.setattr(door, "SETTLE_NS", 10**15)
    ka, kb = SimulatedKernel(a), SimulatedKernel(b)
    with ka.burst():
        offline(ka, range(62, 55, -1))
        offline(kb, range(62, 55, -1))
        ka.read(f"{paths.memory_block(55)}/state")
        assert derived(a) != derived(b)  # a read of another file, younger than SETTLE_NS
        monkeypatch.setattr(door, "SETTLE_NS", 0)
        ka.read(f"{paths.memory_block(55)}/state")  # (a wait polling the blocks)
        assert derived(a) == derived(b)


def test_a_node_going_offline_inside_a_burst_is_not_written_half_gone(pair, monkeypatch):
    """kmem's unbind removes the node's directory, then reads the node masks
    through the door: those reads (the simulator's own, inside the write)
    must not write the derived files of a node half removed, however old
    they are by then."""
    a, b = pair
    monkeypatch.setattr(door, "SETTLE_NS", 10**15)
    real_remove = objects.remove_node

    def remove_then_any_read_settles(tree, node_id):
        real_remove(tree, node_id)
        monkeypatch.setattr(door, "SETTLE_NS", 0)

    ka, kb = SimulatedKernel(a), SimulatedKernel(b)
    offline(kb, range(62, 32, -1))
    with ka.burst():
        offline(ka, range(62, 32, -1))
        monkeypatch.setattr(objects, "remove_node", remove_then_any_read_settles)
        ka.write(f"{paths.DAX_DRIVERS}/kmem/unbind", "dax0.0")
    kb.write(f"{paths.DAX_DRIVERS}/kmem/unbind", "dax0.0")
    assert not (a / "sys/devices/system/node/node1").exists()
    assert derived(a) == derived(b)


def test_a_hung_offline_leaves_the_derived_files_right_while_it_hangs(pair, monkeypatch):
    a, b = pair
    monkeypatch.setattr(door, "SETTLE_NS", 10**15)
    faults.inject(a, "offline-hang", blocks=[50], seconds=0.2)
    ka, kb = SimulatedKernel(a), SimulatedKernel(b)
    seen: list[dict[str, bytes]] = []
    ka.faults.before_hang = lambda: (ka.memory.write_derived(), seen.append(derived(a)))  # type: ignore[func-returns-value]
    with ka.burst():
        offline(ka, range(62, 50, -1))
        offline(kb, range(62, 50, -1))
        with pytest.raises(KernelError) as err:
            offline(ka, range(50, 49, -1))
        assert err.value.errno == errno.EINTR
    assert seen == [derived(b)]


def test_the_executor_applies_a_plan_in_one_burst(pair):
    a, b = pair
    ka, kb = SimulatedKernel(a), SimulatedKernel(b)
    plan = plan_offline(ka, discover(ka, block_fields=OFFLINE_FIELDS), BlockRequest(device="dax0.0"))
    out = Executor(ka, ApplyOptions()).apply(plan)
    assert out.status == "changed"
    offline(kb, range(62, 32, -1))
    assert derived(a) == derived(b)
    assert ka.memory.stale_since is None


# -- online: replaced whole like state ------------------------------------------------


def online_file(root: Path, index: int) -> Path:
    return root / f"sys/devices/system/memory/memory{index}/online"


def write_online(root: Path, value: bytes) -> None:
    ConfinedTreeWriter(root).write_bytes(f"{paths.memory_block(62)}/online", value, 0o644)


def test_online_is_replaced_whole_with_its_mode(pair):
    a, _ = pair
    f = online_file(a, 62)
    inode = f.stat().st_ino
    k = SimulatedKernel(a)
    offline(k, range(62, 60, -1))
    assert f.read_bytes() == b"0\n" and f.stat().st_ino != inode and f.stat().st_mode & 0o777 == 0o644
    assert f.stat().st_ino == online_file(a, 61).stat().st_ino  # one file for the value
    k.write(f"{paths.memory_block(62)}/state", "online_movable")
    assert f.read_bytes() == b"1\n" and online_file(a, 61).read_bytes() == b"0\n"


def test_a_hard_linked_online_file_is_replaced_not_written_through(pair, tmp_path):
    a, _ = pair
    f = online_file(a, 62)
    elsewhere = tmp_path / "elsewhere"
    os.link(f, elsewhere)  # a hard link: writing in place would change the file outside too
    offline(SimulatedKernel(a), range(62, 61, -1))
    assert f.read_bytes() == b"0\n"
    assert elsewhere.read_bytes() == b"1\n"


def test_a_linked_online_file_is_refused(pair, tmp_path):
    a, _ = pair
    f = online_file(a, 62)
    secret = tmp_path / "secret"
    secret.write_bytes(b"1\n")
    f.unlink()
    f.symlink_to(secret)
    with pytest.raises(OutsideSysroot):
        write_online(a, b"0\n")
    assert secret.read_bytes() == b"1\n"


@pytest.mark.parametrize("content", [b"11\n", b"1", b"", b"x\n", b"0\n"])
def test_an_online_file_of_any_content_is_replaced_whole(pair, content):
    a, _ = pair
    f = online_file(a, 62)
    f.write_bytes(content)
    inode = f.stat().st_ino
    write_online(a, b"0\n")
    assert f.read_bytes() == b"0\n"
    assert f.stat().st_ino != inode


def test_an_online_file_of_another_mode_is_replaced_with_the_mode(pair):
    a, _ = pair
    f = online_file(a, 62)
    f.chmod(0o600)
    write_online(a, b"0\n")
    assert f.read_bytes() == b"0\n" and f.stat().st_mode & 0o777 == 0o644


def test_a_fifo_as_online_file_is_never_opened(pair):
    a, _ = pair
    f = online_file(a, 62)
    f.unlink()
    os.mkfifo(f)
    with pytest.raises(OutsideSysroot):  # refused (not a regular file), and nothing hangs
        write_online(a, b"0\n")


def test_faults_json_is_looked_at_once_per_write(pair, monkeypatch):
    a, _ = pair
    k = SimulatedKernel(a)
    k.memory.nodes()
    looked = count_fault_stats(monkeypatch)
    offline(k, range(62, 59, -1))
    assert len(looked) == 3


# -- state and valid_zones: links to one file per value ------------------------------


def block_file(root: Path, index: int, name: str) -> Path:
    return root / f"sys/devices/system/memory/memory{index}/{name}"


def test_blocks_of_one_state_share_one_file_and_read_right(pair):
    a, _ = pair
    k = SimulatedKernel(a)
    offline(k, range(62, 55, -1))
    states = {block_file(a, i, "state").stat().st_ino for i in range(62, 55, -1)}
    assert len(states) == 1 and block_file(a, 62, "state").stat().st_nlink >= 7
    for i in range(62, 55, -1):
        assert block_file(a, i, "state").read_bytes() == b"offline\n"
        assert block_file(a, i, "online").read_bytes() == b"0\n"
        assert block_file(a, i, "state").stat().st_mode & 0o777 == 0o644
        assert block_file(a, i, "valid_zones").stat().st_mode & 0o777 == 0o444
    k.write(f"{paths.memory_block(56)}/state", "online_movable")  # one block leaves the shared file
    assert block_file(a, 56, "state").read_bytes() == b"online\n"
    assert block_file(a, 56, "valid_zones").read_bytes() == b"Movable\n"
    assert block_file(a, 57, "state").read_bytes() == b"offline\n"


def test_a_shared_file_written_in_place_by_the_plain_writer_changes_one_block(pair):
    """The builder's writer (and TreeWriter users) rewrite a file in place:
    a shared one gets a file of its own first, the other blocks keep theirs."""
    a, _ = pair
    k = SimulatedKernel(a)
    offline(k, range(62, 58, -1))
    plain = TreeWriter(a)
    plain.attr(f"{paths.memory_block(60)}/state", "online", MODE_RW)
    plain.attr(f"{paths.memory_block(61)}/valid_zones", "Normal")  # 0444: chmod'ed to write as a user
    assert block_file(a, 60, "state").read_text() == "online\n"
    assert block_file(a, 61, "valid_zones").read_text() == "Normal\n"
    assert block_file(a, 61, "valid_zones").stat().st_mode & 0o777 == 0o444
    for i in (62, 61, 59):
        assert block_file(a, i, "state").read_text() == "offline\n"
    assert block_file(a, 62, "valid_zones").read_text() != "Normal\n"
    assert block_file(a, 62, "state").stat().st_mode & 0o777 == 0o644
    assert block_file(a, 60, "state").stat().st_nlink == 1


def test_the_shared_files_leave_no_name_behind(pair):
    a, _ = pair
    k = SimulatedKernel(a)
    offline(k, range(62, 58, -1))
    tmp = a / ".pmemctl-sim/tmp"
    assert any(p.name.startswith(f"{os.getpid()}.shared") for p in tmp.iterdir())
    del k
    gc.collect()  # (the simulated kernel and its context refer to each other)
    assert list(tmp.iterdir()) == []
    assert block_file(a, 62, "state").read_text() == "offline\n"  # the blocks keep their files
    k = SimulatedKernel(a)  # and a new run makes its own
    k.write(f"{paths.memory_block(62)}/state", "online_movable")
    assert block_file(a, 62, "state").read_text() == "online\n"


def test_a_shared_file_gone_meanwhile_is_made_again(pair):
    a, _ = pair
    k = SimulatedKernel(a)
    offline(k, range(62, 61, -1))
    for p in (a / ".pmemctl-sim/tmp").iterdir():
        p.unlink()  # (someone cleaned up the temporary directory)
    offline(k, range(61, 58, -1))
    assert [block_file(a, i, "state").read_text() for i in range(62, 58, -1)] == ["offline\n"] * 4


# -- faults.json inside a burst: stat'ed again only after the marker directory changed ---


def count_fault_stats(monkeypatch) -> list[str]:
    looked: list[str] = []
    real = os.stat

    def counting(path, *args, **kw):
        if str(path).endswith("faults.json"):
            looked.append(str(path))
        return real(path, *args, **kw)

    monkeypatch.setattr(faults.os, "stat", counting)
    return looked


@pytest.mark.parametrize("watched", [True, False], ids=["inotify", "no-inotify"])
def test_a_fault_injected_inside_a_burst_takes_effect_at_the_next_write(pair, monkeypatch, watched):
    a, _ = pair
    if not watched:  # (no inotify to be had: every write stats)
        monkeypatch.setattr(faults, "watch_directory", lambda path: None)
    k = SimulatedKernel(a)
    offline(k, range(62, 61, -1))  # (the first write makes .pmemctl-sim/tmp: a change of its own)
    looked = count_fault_stats(monkeypatch)
    with k.burst():
        offline(k, range(61, 58, -1))
        assert len(looked) == (1 if watched else 3)  # nothing changed after the first look
        faults.inject(a, "offline-busy", blocks=[58])  # as `pmemctl sim fault` in another process
        with pytest.raises(KernelError) as err:
            offline(k, range(58, 57, -1))
        assert err.value.errno == errno.EBUSY
        faults.clear(a)
        offline(k, range(58, 56, -1))
        with open(faults._path(a), "w") as fh:  # written in place, not renamed (an editor)
            fh.write('[{"kind": "offline-busy", "blocks": [56]}]')
        with pytest.raises(KernelError):
            offline(k, range(56, 55, -1))
    assert (a / "sys/devices/system/memory/memory56/state").read_text() == "online\n"
    assert k.faults._watch is None  # the burst's end let the watch go


def test_a_watch_that_loses_its_directory_says_changed_from_then_on(tmp_path):
    from pmemctl.sim.kernel.watch import watch_directory

    d = tmp_path / "marker"
    d.mkdir()
    w = watch_directory(str(d))
    if w is None:
        pytest.skip("no inotify here")
    assert w.changed() and not w.changed()  # the first look, then nothing
    (d / "faults.json").write_text("[]")
    assert w.changed() and not w.changed()
    d.rename(tmp_path / "moved")
    assert w.changed() and w.changed()  # lost: every call looks
    w.close()


# -- the block cache is loaded whole or not at all -------------------------------------


def test_a_write_interrupted_while_the_block_cache_loads_leaves_no_partial_cache(pair, monkeypatch):
    """The first block write loads every node's blocks; a SIGALRM bounding that
    write can land in the middle.  The next write loads again and answers as
    a kernel that was never interrupted does (it used to find the block's node
    missing from a half-built cache: KeyError)."""
    a, b = pair
    k = SimulatedKernel(a)
    real = k.memory._load_node
    calls: list[int] = []

    def interrupted_on_the_second_node(node_id):
        calls.append(node_id)
        if len(calls) == 2:
            raise TimeoutError  # what ops/signals.py's SIGALRM handler raises
        return real(node_id)

    monkeypatch.setattr(k.memory, "_load_node", interrupted_on_the_second_node)
    with pytest.raises(TimeoutError):
        offline(k, range(62, 61, -1))
    offline(k, range(62, 60, -1))
    offline(SimulatedKernel(b), range(62, 60, -1))
    assert derived(a) == derived(b)
    assert block_file(a, 62, "state").read_text() == block_file(a, 61, "state").read_text() == "offline\n"


def test_the_block_cache_loads_outside_the_timer_bounding_the_write(pair, monkeypatch):
    """Loading every block's state on the first block write is the
    simulator's own set-up, not the kernel answering: a per-block --timeout
    shorter than it (ops/signals.py's SIGALRM) does not fire, and it still
    bounds the write itself afterwards."""
    import signal
    import time

    a, _ = pair
    k = SimulatedKernel(a)
    real = k.memory._load_node

    def slow(node_id):
        time.sleep(0.3)
        return real(node_id)

    def on_alarm(signum, frame):
        raise TimeoutError

    monkeypatch.setattr(k.memory, "_load_node", slow)
    old = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        offline(k, range(62, 61, -1))  # loads two nodes: 0.6 s, three times the timer
        left, _ = signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert 0 < left <= 0.2  # paused, not cancelled
    assert block_file(a, 62, "state").read_text() == "offline\n"


# -- the fast path of a block write against a kernel computing from scratch ---------------


def node_blocks(root: Path, node: int) -> list[int]:
    return sorted(int(p.name[6:]) for p in (root / f"sys/devices/system/node/node{node}").glob("memory[0-9]*"))


def assert_block_files_as_a_kernel_shows_them(root: Path, k: SimulatedKernel, node: int) -> None:
    """Every block's state, online and valid_zones as computed from the
    online blocks alone: an online block's zone; an offline one's zones from
    the spans of the online ones (layout.offline_valid_zones)."""
    bs = k.block_size
    files = {i: tuple(block_file(root, i, n).read_text() for n in ("state", "online", "valid_zones"))
             for i in node_blocks(root, node)}
    for i, (state, online, _) in files.items():
        assert (state, online) in (("online\n", "1\n"), ("offline\n", "0\n")), i
    spans = layout.zone_spans((vz.strip(), i * bs, (i + 1) * bs) for i, (st, _, vz) in files.items()
                              if st == "online\n")
    for i, (state, _, vz) in files.items():
        if state == "offline\n":
            assert vz == layout.offline_valid_zones(i * bs, (i + 1) * bs, spans, k.spec.movable_node) + "\n", i


@pytest.mark.parametrize("seed", range(3))
def test_random_block_changes_leave_every_block_file_as_computed_from_scratch(pair, seed):
    """Blocks going online and offline anywhere (edges of a zone, its middle,
    next to a hole, a zone appearing and vanishing), through one simulated
    kernel: after every write each block of the node reads what a kernel
    computing from the online blocks shows, and the derived files match a
    second tree changed one write at a time by fresh simulated kernels."""
    a, b = pair
    rng = random.Random(seed)
    k = SimulatedKernel(a)
    blocks = node_blocks(a, 1)
    for _ in range(80):
        i = rng.choice(blocks)
        state = block_file(a, i, "state").read_text().strip()
        request = "offline" if state == "online" else rng.choice(["online_movable", "online_kernel", "online"])
        try:
            k.write(f"{paths.memory_block(i)}/state", request)
        except KernelError as err:
            assert err.errno == errno.EINVAL and request == "online_kernel"  # (no kernel zone can take it there)
            continue
        SimulatedKernel(b).write(f"{paths.memory_block(i)}/state", request)
        assert_block_files_as_a_kernel_shows_them(a, k, 1)
    assert derived(a) == derived(b)
    assert [block_file(a, i, "valid_zones").read_text() for i in blocks] == [
        block_file(b, i, "valid_zones").read_text() for i in blocks]


# -- a built tree: block attributes are links to one file per value ----------------------


def test_a_built_tree_links_each_block_attribute_to_one_file_per_value(pair):
    """A block's first state change then frees no file of its own (issue 14);
    the build leaves no name of its own behind."""
    a, _ = pair
    blocks = node_blocks(a, 1)
    for name, mode in (("state", 0o644), ("online", 0o644), ("valid_zones", 0o444)):
        by_value: dict[bytes, set[int]] = {}
        for i in blocks:
            st = block_file(a, i, name).stat()
            assert st.st_mode & 0o777 == mode
            by_value.setdefault(block_file(a, i, name).read_bytes(), set()).add(st.st_ino)
        assert all(len(inodes) == 1 for inodes in by_value.values()), (name, by_value)
    assert block_file(a, blocks[0], "state").stat().st_nlink >= len(blocks)
    assert block_file(a, blocks[0], "phys_index").stat().st_nlink == 1  # (one value per block: its own file)
    assert list((a / ".pmemctl-sim/tmp").iterdir()) == []


def test_blocks_kmem_adds_link_to_the_kernels_shared_files(tmp_path):
    root = materialise(load_scenario("qemu-nvdimm", {"stage": "devdax"}), tmp_path / "t")
    k = SimulatedKernel(root)
    k.write(f"{paths.DAX_DRIVERS}/device_dax/unbind", "dax0.0")
    k.write(f"{paths.DAX_DRIVERS}/kmem/new_id", "dax0.0")
    added = node_blocks(root, 1)
    assert added
    states = {block_file(root, i, "state").stat().st_ino for i in added}
    assert len(states) == 1 and block_file(root, added[0], "state").stat().st_nlink >= len(added)
    assert_block_files_as_a_kernel_shows_them(root, k, 1)
    for i in added[-3:]:  # (the blocks' files were made by this writer: no lstat before replacing them)
        online = block_file(root, i, "state").read_text() == "online\n"
        k.write(f"{paths.memory_block(i)}/state", "offline" if online else "online_movable")
    assert_block_files_as_a_kernel_shows_them(root, k, 1)


def test_a_block_write_refuses_a_linked_attribute_before_changing_any(pair, tmp_path):
    a, _ = pair
    secret = tmp_path / "secret"
    secret.write_bytes(b"1\n")
    f = online_file(a, 62)
    f.unlink()
    f.symlink_to(secret)
    before = {n: block_file(a, 62, n).read_bytes() for n in ("state", "valid_zones")}
    with pytest.raises(OutsideSysroot):
        offline(SimulatedKernel(a), range(62, 61, -1))
    assert {n: block_file(a, 62, n).read_bytes() for n in ("state", "valid_zones")} == before
    assert f.is_symlink() and secret.read_bytes() == b"1\n"
