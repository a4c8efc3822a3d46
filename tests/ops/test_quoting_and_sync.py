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
