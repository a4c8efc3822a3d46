"""pmemctl_layout and pmemctl_apply through the real engine on simulated
machines: first run changed, second not; check mode writes nothing and
reports the plan; diff before/after per device; a bad layout fails with file
and line; a refusal (a mapped /dev/daxX.Y) fails without writing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.ansible.ansible_support import (
    load_module_utils,
    make_machine,
    pmemctl,
    require_ansible,
    run_playbook,
    tree_digest,
    write_pmemctl_program,
)
from tests.ansible.scenarios import MACHINES


@pytest.fixture(scope="module", autouse=True)
def _ansible() -> None:
    require_ansible()


def converge_play(machine: Path, program: Path, layout: dict[str, Any]) -> str:
    return f"""
- hosts: all
  gather_facts: false
  module_defaults:
    group/pmemctl.memory.all:
      sysroot: {machine}
      executable: {program}
  tasks:
    - name: layout
      pmemctl.memory.pmemctl_layout:
        name: fleet
        layout: {json.dumps(layout)}
    - name: apply
      pmemctl.memory.pmemctl_apply:
"""


def converged(machine: Path) -> bool:
    """pmemctl's own verdict: apply --check exits 0 when the machine matches the layout."""
    return pmemctl("--sysroot", str(machine), "apply", "--check", check=False).returncode == 0


@pytest.mark.parametrize("scenario", sorted(MACHINES))
def test_first_run_changes_second_does_not(tmp_path: Path, scenario: str) -> None:
    sets, layout, devices = MACHINES[scenario]
    machine = make_machine(scenario, tmp_path / "m", *sets)
    program = write_pmemctl_program(tmp_path / "bin")
    play = converge_play(machine, program, layout)

    first = run_playbook(tmp_path, play, diff=True)
    assert first.rc == 0, first.explain()
    assert first.stats["localhost"]["changed"] == 2 and first.stats["localhost"]["failures"] == 0
    applied = first.task("apply")
    assert applied["changed"] and applied["exit_code"] == 0 and applied["plan"]["steps"]
    assert applied["outcome"] is not None
    assert converged(machine)
    before, after = applied["diff"]["before"], applied["diff"]["after"]
    for entry in layout["device"]:
        for device, state in after[entry["name"]].items():
            assert state["mode"] == "system-ram" and state["online_blocks"] == state["blocks"] > 0, (device, state)
    changed = {dev for name in before for dev in before[name] if before[name][dev] != after[name][dev]}
    assert changed == set(devices)
    written = (machine / "etc/pmemctl/conf.d/fleet.toml").read_text()
    assert first.task("layout")["diff"]["after"] == written and first.task("layout")["diff"]["before"] == ""

    digest = tree_digest(machine)
    second = run_playbook(tmp_path, play, diff=True)
    assert second.rc == 0, second.explain()
    assert second.stats["localhost"]["changed"] == 0, second.explain()
    assert second.task("apply")["exit_code"] == 3 and second.task("apply")["plan"] is None
    assert "diff" not in second.task("layout") or not second.task("layout")["diff"]["after"] != written
    assert tree_digest(machine) == digest


@pytest.mark.parametrize("scenario", ["qemu-nvdimm", "optane-2s"])
def test_check_mode_writes_nothing_and_reports_the_plan(tmp_path: Path, scenario: str) -> None:
    sets, layout, devices = MACHINES[scenario]
    machine = make_machine(scenario, tmp_path / "m", *sets)
    program = write_pmemctl_program(tmp_path / "bin")
    conf = machine / "etc/pmemctl/conf.d"
    conf.mkdir(parents=True)
    play = converge_play(machine, program, layout) + """
    - name: another layout file
      pmemctl.memory.pmemctl_layout:
        name: extra
        policy: {demotion_enabled: true}
"""
    # the layout file in place (written by the module for real), the machine not yet converged
    setup = run_playbook(tmp_path, play.split("    - name: apply")[0])
    assert setup.rc == 0 and setup.task("layout")["changed"], setup.explain()
    digest = tree_digest(machine)

    checked = run_playbook(tmp_path, play, check=True, diff=True)
    assert checked.rc == 0, checked.explain()
    assert tree_digest(machine) == digest  # nothing written, not even the lock or a journal
    assert not (conf / "extra.toml").exists()
    applied = checked.task("apply")
    assert applied["changed"] and applied["outcome"] is None and applied["document"]["dry_run"] is True
    writes = [write for step in applied["plan"]["steps"] for write in step["writes"]]
    assert writes and all(write["path"].startswith("/sys/") for write in writes)
    assert any(device in " ".join(applied["differences"]) for device in devices)
    wished = applied["diff"]["after"]
    assert {name: list(states) for name, states in wished.items()} == {
        name: list(states) for name, states in applied["diff"]["before"].items()}
    assert checked.task("layout")["changed"] is False
    extra = checked.task("another layout file")
    assert extra["changed"] and extra["validated"] and "demotion_enabled = true" in extra["diff"]["after"]
    assert checked.stats["localhost"]["changed"] == 2
    assert not converged(machine)


def test_bad_layout_fails_with_file_and_line(tmp_path: Path) -> None:
    machine = make_machine("qemu-nvdimm", tmp_path / "m", "stage=devdax")
    program = write_pmemctl_program(tmp_path / "bin")
    conf = machine / "etc/pmemctl/conf.d"
    conf.mkdir(parents=True)
    broken = tmp_path / "broken.toml"  # outside conf.d: pmemctl_layout validates conf.d's files together
    broken.write_text('version = 1\n\n[[device]]\nname = "x"\nmatch = { node = 1 }\nmode = "sytem-ram"\n')
    digest = tree_digest(machine)
    play = f"""
- hosts: all
  gather_facts: false
  module_defaults:
    group/pmemctl.memory.all:
      sysroot: {machine}
      executable: {program}
  tasks:
    - name: bad layout
      pmemctl.memory.pmemctl_layout:
        name: fleet
        devices:
          - {{name: nvdimm, match: {{namespace: namespace0.0}}, mode: system-ram, online: lots}}
      ignore_errors: true
    - name: apply a broken file
      pmemctl.memory.pmemctl_apply:
        config: [{broken}]
      ignore_errors: true
"""
    result = run_playbook(tmp_path, play)
    layout = result.task("bad layout")
    target = conf / "fleet.toml"
    line = layout["content"].splitlines().index('online = "lots"') + 1  # the line of the bad value
    assert layout["failed"] and f"{target}:{line}: device[0]: online must be" in layout["msg"], layout["msg"]
    assert "nothing was written" in layout["msg"] and layout["rc"] == 2
    applied = result.task("apply a broken file")
    assert applied["failed"] and applied["rc"] == 2 and f"{broken}:6:" in applied["msg"], applied["msg"]
    assert applied["error"]["exit_code"] == 2 and applied["machine"]["list"]["command"] == "list"
    assert tree_digest(machine) == digest and not target.exists()


def test_refusal_fails_without_writing(tmp_path: Path) -> None:
    """A process maps /dev/dax0.0 (the simulator's declared holders, as
    tests/cli/test_namespace.py does): apply refuses, in check mode too."""
    sets, layout, _devices = MACHINES["qemu-nvdimm"]
    machine = make_machine("qemu-nvdimm", tmp_path / "m", *sets)
    program = write_pmemctl_program(tmp_path / "bin")
    (machine / ".pmemctl-sim/holders.json").write_text(
        json.dumps([{"pid": 4242, "name": "redis", "path": "/dev/dax0.0"}]))
    conf = machine / "etc/pmemctl/conf.d"
    conf.mkdir(parents=True)
    (conf / "fleet.toml").write_text(load_module_utils().toml_dumps(layout))
    digest = tree_digest(machine)
    play = f"""
- hosts: all
  gather_facts: false
  module_defaults:
    group/pmemctl.memory.all:
      sysroot: {machine}
      executable: {program}
  tasks:
    - name: predict
      pmemctl.memory.pmemctl_apply:
      check_mode: true
      ignore_errors: true
    - name: apply
      pmemctl.memory.pmemctl_apply:
      ignore_errors: true
"""
    result = run_playbook(tmp_path, play)
    for name in ("predict", "apply"):
        task = result.task(name)
        assert task["failed"] and task["rc"] == 5, task
        assert "/dev/dax0.0" in task["msg"] and "redis (pid 4242)" in task["msg"]
        dax = task["machine"]["list"]["buses"][0]["regions"][0]["namespaces"][0]["dax_device"]
        assert dax["name"] == "dax0.0" and dax["mode"] == "devdax"
    assert tree_digest(machine) == digest

    forced = run_playbook(tmp_path, play.replace("pmemctl.memory.pmemctl_apply:\n",
                                                 "pmemctl.memory.pmemctl_apply:\n        force: true\n"))
    assert not forced.task("predict").get("failed") and forced.task("predict")["changed"], forced.explain()
    assert forced.task("apply")["changed"] and forced.task("apply")["exit_code"] == 0, forced.explain()
    assert converged(machine)
