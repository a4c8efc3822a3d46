"""Issue 15 item 6: the plan summary never hides a driver change or anything
destructive.  Only runs of identical block steps on one device are folded;
the folded line says how many steps and writes it hides; ``--all-steps``
(documented in ``--help``) lists everything; the consent prompt shows the
same summary."""

from __future__ import annotations

import re

import pytest

from pmemctl.cli.render.change import plan_blocks
from pmemctl.errors import ExitCode

DRIVER = re.compile(r"(detach|attach) dax\d+\.\d+ (from|to) the \w+ driver")


def _section(text, title):
    return text.split(f"{title}:\n", 1)[1].split("\n\n", 1)[0].splitlines()


def _all(invoke, tree, *args):
    res = invoke("--sysroot", tree, *args, "--dry-run", "--all-steps")
    assert res.exit_code == ExitCode.OK, res.output
    return res.stdout


@pytest.mark.parametrize("mode", ["system-ram", "devdax"])
def test_reconfigure_all_lists_every_driver_change(invoke, scenario_tree, mode):
    tree = scenario_tree("optane-2s")
    args = ("reconfigure", "all", "--mode", mode)
    res = invoke("--sysroot", tree, *args, "--dry-run")
    assert res.exit_code == ExitCode.OK, res.output
    everything = _all(invoke, tree, *args)
    drivers = [m.group(0) for m in DRIVER.finditer(everything)]
    assert drivers, everything
    summary = res.stdout
    assert [m.group(0) for m in DRIVER.finditer(summary)] == drivers
    # every write of a driver change is listed too
    sysfs_driver_writes = [w for w in _section(everything, "Exact writes") if "/drivers/" in w]
    assert sysfs_driver_writes and all(w in _section(summary, "Exact writes") for w in sysfs_driver_writes)
    # something was folded, and the folded line counts what it hides
    steps = _section(summary, "Steps")
    folded = [line for line in steps if "more step(s)" in line]
    assert folded, summary
    for line in folded:
        m = re.search(r"(\d+) more step\(s\) of the same kind .*?, (\d+) write\(s\) hidden; --all-steps", line)
        assert m, line
    # numbering: hidden steps + shown steps = all steps
    hidden = sum(int(re.search(r"(\d+) more step", line).group(1)) for line in folded)
    shown = [line for line in steps if re.match(r"\s*\d+\. ", line)]
    total = len([line for line in _section(everything, "Steps") if re.match(r"\s*\d+\. ", line)])
    assert hidden + len(shown) == total


def test_only_runs_of_identical_block_steps_fold(invoke, scenario_tree):
    tree = scenario_tree("optane-2s")
    summary = invoke("--sysroot", tree, "reconfigure", "all", "--mode", "system-ram", "--dry-run").stdout
    steps = _section(summary, "Steps")
    for i, line in enumerate(steps):
        if "more step(s)" in line:
            before, after = steps[i - 1], steps[i + 1]
            kind = re.sub(r"\d+", "N", before.split(". ", 1)[1])
            assert re.sub(r"\d+", "N", after.split(". ", 1)[1]) == kind
            assert "memory block" in kind


def test_all_steps_hides_nothing(invoke, scenario_tree):
    tree = scenario_tree("optane-2s")
    out = _all(invoke, tree, "reconfigure", "all", "--mode", "system-ram")
    assert "more step(s)" not in out and "hidden" not in out


@pytest.mark.parametrize("command", [("reconfigure",), ("online",), ("offline",)])
def test_help_says_all_steps_shows_everything(invoke, command):
    text = " ".join(invoke(*command, "--help").stdout.split())
    assert "--all-steps List every step and every write" in text
    assert "never folded" in text


def test_consent_prompt_shows_the_same_summary(invoke, scenario_tree, monkeypatch, capsys):
    import io

    from pmemctl.cli.app import App
    from pmemctl.cli.commands import change
    from pmemctl.ops.requests import ReconfigureRequest
    from pmemctl.ops.services import RunOptions, reconfigure
    from pmemctl.sysfs.door import SysfsRoot

    tree = scenario_tree("optane-2s")
    args = ("reconfigure", "all", "--mode", "system-ram")
    plan = reconfigure(SysfsRoot(tree), ReconfigureRequest("all", "system-ram", "movable", True, False),
                       RunOptions(dry_run=True)).plan
    asked = []

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(change.sys, "stdin", Terminal())
    monkeypatch.setattr(change.click, "confirm", lambda text, **k: asked.append(text) or False)
    app = App()
    app.color = False
    assert change._confirm(app)(plan) is False and asked
    prompt = capsys.readouterr().out
    summary = invoke("--sysroot", tree, *args, "--dry-run").stdout
    assert _section(prompt, "Steps") == _section(summary, "Steps")
    assert DRIVER.search("\n".join(_section(prompt, "Steps")))
    assert any("more step(s)" in line for line in _section(prompt, "Steps"))


def test_plan_without_units_folds_blocks_but_not_other_steps():
    from pmemctl.ops.actions.dax import BindDevice, UnbindDevice
    from pmemctl.ops.actions.memory import OfflineBlock
    from pmemctl.ops.plan import Plan

    actions = (
        tuple(OfflineBlock(i) for i in range(10, 30))
        + (UnbindDevice("dax0.0", "kmem"), BindDevice("dax0.0", "device_dax"))
    )
    plan = Plan(title="t", actions=actions)
    steps = next(b for b in plan_blocks(plan) if getattr(b, "title", None) == "Steps").lines
    assert any("17 more step(s) of the same kind (blocks 12-28), 17 write(s) hidden" in s for s in steps)
    assert list(steps[-2:]) == [" 21. detach dax0.0 from the kmem driver",
                          " 22. attach dax0.0 to the device_dax driver (make /dev/dax0.0 usable)"]
