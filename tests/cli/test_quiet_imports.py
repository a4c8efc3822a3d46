"""collector_paused (pmemctl/cli/quiet_imports.py): imports run without the
cyclic collector, what they made is frozen, the collector's state is put
back, and a second use in the same process changes nothing."""

from __future__ import annotations

import gc
import sys

from pmemctl.cli.quiet_imports import collector_paused


def test_the_collector_is_off_inside_and_as_before_after() -> None:
    name = "pmemctl_test_not_a_module_yet"
    assert name not in sys.modules
    was = gc.isenabled()
    gc.enable()
    try:
        frozen = gc.get_freeze_count()
        with collector_paused(name):
            assert not gc.isenabled()
            made = [[] for _ in range(1000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen + len(made)
        gc.disable()
        with collector_paused(name):
            pass
        assert not gc.isenabled()  # off before: off after
    finally:
        gc.unfreeze()
        (gc.enable if was else gc.disable)()


def test_nothing_changes_once_the_modules_are_imported() -> None:
    was = gc.isenabled()
    gc.enable()
    try:
        frozen = gc.get_freeze_count()
        with collector_paused("sys", "gc"):
            assert gc.isenabled()
        assert gc.get_freeze_count() == frozen
    finally:
        (gc.enable if was else gc.disable)()
