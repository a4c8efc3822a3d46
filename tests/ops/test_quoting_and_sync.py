"""The dry run's echo lines are safe to paste; namespace steps are fsync'ed
in the journal (issue 16, items 16 and 13)."""

from __future__ import annotations

import subprocess

import pytest

from pmemctl.ops.actions.base import JournalPolicy, Write
from pmemctl.ops.actions.nd import CreateNamespace, DestroyNamespace, ReconfigureNamespace


@pytest.mark.parametrize("value", ["online_movable", "offline", "dax0.0", "0x40000000", "4096",
                                   "1f8b2c3e-0d4e-4b8e-9c1a-2b3c4d5e6f70", "namespace0.0", "fsdax"])
def test_ordinary_values_print_exactly_as_before(value):
    w = Write("/sys/bus/nd/devices/namespace0.0/mode", value)
    assert w.shell() == f"echo {value} > /sys/bus/nd/devices/namespace0.0/mode"


@pytest.mark.parametrize("value", ["x; reboot #", "$(id)", "a b", "`id`", "it's", "x > /etc/passwd"])
def test_a_value_a_shell_would_read_is_quoted_so_pasting_writes_it_verbatim(tmp_path, value):
    target = tmp_path / "alt_name"
    line = Write(str(target), value).shell()
    assert line != f"echo {value} > {target}"
    subprocess.run(["sh", "-c", line], check=True, cwd=tmp_path)
    assert target.read_text() == value + "\n"


@pytest.mark.parametrize("cls", [CreateNamespace, ReconfigureNamespace, DestroyNamespace])
def test_namespace_steps_are_fsynced_in_the_journal(cls):
    assert cls.journal is JournalPolicy.SYNC


@pytest.mark.parametrize("name,ok", [("é" * 31, True), ("é" * 32, False), ("x" * 63, True), ("x" * 64, False)],
                         ids=["62-bytes", "64-bytes-32-chars", "63-ascii", "64-ascii"])
def test_a_namespace_name_is_limited_to_the_kernels_63_bytes(make_machine, name, ok):
    """alt_name keeps 63 bytes (NSLABEL_NAME_LEN with its NUL): 32 'é' are
    32 characters but 64 bytes, which the kernel refuses with EINVAL."""
    from pmemctl.errors import UsageError
    from pmemctl.model.discover import discover
    from pmemctl.ops.plan.namespace import plan_create
    from pmemctl.ops.requests import CreateRequest

    k = make_machine("optane-2s")
    req = CreateRequest("region1", "66G", "devdax", name=name, backend="sysfs")
    if ok:
        assert plan_create(k, discover(k, with_blocks=False), req).actions
    else:
        with pytest.raises(UsageError) as exc:
            plan_create(k, discover(k, with_blocks=False), req)
        assert "at most 63 bytes" in exc.value.sentence()
