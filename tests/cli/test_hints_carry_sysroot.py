"""Issue 15, item 3: a command line pmemctl prints for the user to run acts on
the machine the run acted on.

Under ``--sysroot DIR`` every such line (hints of refusals, the Ctrl-C and
unfinished-journal messages, ``namespace plan``'s Command line, the machine
state after a failed rollback, ``sim create``'s "try:" line, demo's hint)
carries ``--sysroot DIR``; pasted into a shell, none acts on ``/``.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from cli_support import Invoke

from pmemctl.commandline import command_line
from pmemctl.errors import ExitCode
from pmemctl.sim.kernel import faults

SUBCOMMANDS = ("list", "blocks", "topology", "reconfigure", "online", "offline", "status", "resume",
               "rollback", "namespace", "demo", "sim", "boot", "apply", "config", "doctor", "journal")
#: "pmemctl" directly followed by a subcommand: a command line without the sysroot.
#: ("pmemctl boot units under DIR" is a title, not a command line.)
BARE = re.compile(r"\bpmemctl (?:%s)\b(?! units)" % "|".join(SUBCOMMANDS))


def hints(text: str, tree: Path) -> list[str]:
    """Every pmemctl command line in ``text``; fails on one that drops the sysroot."""
    assert not BARE.search(text), f"a command line without --sysroot {tree}:\n{text}"
    found = re.findall(r"pmemctl --sysroot (\S+)", text)
    for root in found:
        assert shlex.split(root)[0] == str(tree), text
    return found


def both(res: Any) -> str:
    return res.stdout + res.stderr


@pytest.fixture
def devdax(fresh_tree: Any) -> Path:
    return fresh_tree("qemu-nvdimm", stage="devdax")


@pytest.fixture
def sysram(fresh_tree: Any) -> Path:
    return fresh_tree("qemu-nvdimm", stage="system-ram")


def test_command_line_quotes_and_omits_the_live_root(tmp_path: Path) -> None:
    assert command_line("rollback") == "pmemctl rollback"
    assert command_line("rollback", sysroot="/") == "pmemctl rollback"
    odd = tmp_path / "a tree"
    assert command_line("reconfigure", "dax0.0", sysroot=str(odd)) == \
        f"pmemctl --sysroot '{odd}' reconfigure dax0.0"
    assert shlex.split(command_line("list", sysroot=str(odd))) == ["pmemctl", "--sysroot", str(odd), "list"]


def test_refusal_hints(invoke: Invoke, devdax: Path) -> None:
    res = invoke("--sysroot", devdax, "offline", "dax0.0", "--count", "1")
    assert res.exit_code == ExitCode.REFUSED
    assert "convert it first" in res.stderr and hints(both(res), devdax)
    res = invoke("--sysroot", devdax, "offline", "--blocks", "99999")
    assert res.exit_code == ExitCode.NOT_FOUND
    assert hints(both(res), devdax)


def test_namespace_plan_command_line(invoke: Invoke, fresh_tree: Any) -> None:
    import json

    optane = fresh_tree("optane-2s")
    res = invoke("--sysroot", optane, "namespace", "plan", "-r", "region1", "--system-ram", "64G")
    assert res.exit_code == 0, res.stderr
    assert f"pmemctl --sysroot {optane} namespace create --region region1" in res.stdout
    hints(both(res), optane)
    res = invoke("--sysroot", optane, "namespace", "plan", "-r", "region1", "--system-ram", "64G", "--json")
    assert json.loads(res.stdout)["command_line"].startswith(f"pmemctl --sysroot {optane} namespace create")


def test_rollback_incomplete_unfinished_and_status(invoke: Invoke, devdax: Path) -> None:
    faults.inject(devdax, "bind-fail", driver="kmem", device="dax0.0")
    faults.inject(devdax, "bind-fail", driver="device_dax", device="dax0.0")
    res = invoke("--sysroot", devdax, "reconfigure", "dax0.0", "-m", "system-ram", "--yes")
    assert res.exit_code == ExitCode.ROLLBACK_INCOMPLETE
    assert "NO driver" in res.stdout
    assert len(hints(both(res), devdax)) >= 3  # reconfigure (NO driver), status, rollback
    res = invoke("--sysroot", devdax, "status")
    assert res.exit_code == ExitCode.LOCKED
    assert len(hints(both(res), devdax)) == 2
    res = invoke("--sysroot", devdax, "reconfigure", "dax0.0", "-m", "system-ram", "--yes")
    assert res.exit_code == ExitCode.LOCKED
    assert len(hints(both(res), devdax)) == 3
    faults.clear(devdax)


def test_ctrl_c_hint(invoke: Invoke, sysram: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pmemctl.sim.kernel import SimulatedKernel

    real = SimulatedKernel.write
    calls = []

    def write(self: Any, kpath: str, value: str) -> None:
        calls.append(kpath)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(self, kpath, value)

    monkeypatch.setattr(SimulatedKernel, "write", write)
    res = invoke("--sysroot", sysram, "offline", "dax0.0", "--count", "4")
    monkeypatch.undo()
    assert "interrupted" in res.stderr
    assert len(hints(both(res), sysram)) == 3  # rollback, resume, status


def test_sim_create_and_demo(invoke: Invoke, tmp_path: Path) -> None:
    tree = tmp_path / "sim tree"
    res = invoke("sim", "create", tree, "--scenario", "qemu-nvdimm")
    assert res.exit_code == 0, res.stderr
    assert "try: " + command_line("list", sysroot=str(tree)) in res.stdout
    keep = tmp_path / "kept"
    res = invoke("demo", "--keep", keep)
    assert res.exit_code == 0, res.stderr
    assert command_line("reconfigure", "dax0.0", "--mode", "devdax", "--dry-run", sysroot=str(keep)) in res.stdout
    hints(both(res), keep)


def test_boot_status_names_the_install_line_of_this_tree(invoke: Invoke, devdax: Path) -> None:
    """Not installed, then drifted: each hint is the install line for this
    sysroot, with the options the manifest recorded."""
    res = invoke("--sysroot", devdax, "boot", "status")
    assert res.exit_code == 0
    hints(both(res), devdax)
    assert f"'pmemctl --sysroot {devdax} boot install'" in res.stdout
    assert invoke("--sysroot", devdax, "boot", "install", "--before", "db.service", "--wait", "7").exit_code == 0
    unit = devdax / "etc/systemd/system/pmemctl-apply.service"
    unit.write_text(unit.read_text() + "# edited\n")
    res = invoke("--sysroot", devdax, "boot", "status")
    assert res.exit_code == int(ExitCode.DRIFT)
    # "runs:" is the unit's ExecStart= on the machine that boots from the tree, not a hint
    hints("\n".join(line for line in res.stdout.splitlines() if not line.startswith("runs:")), devdax)
    line = re.search(r"run '([^']+)' to put them back", res.stdout)
    assert line is not None, res.stdout
    assert shlex.split(line.group(1))[1:] == ["--sysroot", str(devdax), "boot", "install", "--before", "db.service",
                                              "--wait", "7", "--timeout", "900"]


@pytest.mark.parametrize("command", [("rollback",), ("rollback", "--dry-run"), ("resume", "--dry-run"), ("resume",)])
def test_damaged_journal_hints(invoke: Invoke, sysram: Path, command: tuple[str, ...]) -> None:
    """A journal naming a step this pmemctl does not know: the 'pmemctl list'
    (and blocks, journal abandon) it suggests reads the same tree."""
    import json

    state = sysram / "var/lib/pmemctl"
    state.mkdir(parents=True, exist_ok=True)
    (state / "journal.json").write_text(json.dumps({
        "version": 1, "command": "offline", "state": "interrupted",
        "plan": {"title": "offline 1 block(s)", "actions": [{"kind": "no-such-step", "index": 5}]},
    }))
    (state / "journal.log").write_text('{"e":"start","i":0}\n')
    res = invoke("--sysroot", sysram, *command)
    text = both(res)
    assert res.exit_code == ExitCode.LOCKED, text
    assert "cannot be read" in text
    assert len(hints(text, sysram)) >= 3, text  # list, blocks, journal abandon


def test_doctor_explain_hint_carries_the_sysroot(invoke: Invoke, devdax: Path) -> None:
    res = invoke("--sysroot", devdax, "doctor")
    assert res.exit_code in (0, int(ExitCode.DOCTOR_WARNINGS), int(ExitCode.DOCTOR_ERRORS)), res.stderr
    hints(both(res), devdax)
    assert f"explain a finding: pmemctl --sysroot {devdax} doctor --explain ID" in res.stdout
