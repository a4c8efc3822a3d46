"""pmemctl_info through the real engine (ansible-playbook, local connection)
on simulated machines, and the clear failures when pmemctl is missing or too old."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ansible.ansible_support import (
    make_machine,
    pmemctl,
    require_ansible,
    run_playbook,
    tree_digest,
    write_pmemctl_program,
)


@pytest.fixture(scope="module", autouse=True)
def _ansible() -> None:
    require_ansible()


INFO_PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: facts
      pmemctl.memory.pmemctl_info:
        sysroot: {sysroot}
        executable: {program}
        gather: {gather}
"""


@pytest.mark.parametrize(("scenario", "sets", "check"), [
    ("optane-2s", (), False), ("qemu-nvdimm", ("stage=system-ram",), True),
])
def test_info_returns_pmemctl_documents(tmp_path: Path, scenario: str, sets: tuple[str, ...], check: bool) -> None:
    machine = make_machine(scenario, tmp_path / "m", *sets)
    program = write_pmemctl_program(tmp_path / "bin")
    digest = tree_digest(machine)
    play = INFO_PLAY.format(sysroot=machine, program=program, gather="[list, blocks, topology, doctor]")
    result = run_playbook(tmp_path, play, check=check)
    assert result.rc == 0, result.explain()
    facts = result.task("facts")
    assert facts["changed"] is False
    for command in ("list", "blocks", "topology"):
        expected = json.loads(pmemctl("--sysroot", str(machine), command, "--json").stdout)
        assert facts[command] == expected, command
    has_doctor = pmemctl("doctor", "--help", check=False).returncode == 0
    assert (facts["doctor"] is not None) == has_doctor
    assert tree_digest(machine) == digest  # facts never write


def test_info_gathers_only_what_is_asked(tmp_path: Path) -> None:
    machine = make_machine("cxl-hmem", tmp_path / "m")
    program = write_pmemctl_program(tmp_path / "bin")
    result = run_playbook(tmp_path, INFO_PLAY.format(sysroot=machine, program=program, gather="[topology]"))
    facts = result.task("facts")
    assert "topology" in facts and "list" not in facts and "blocks" not in facts
    assert facts["topology"]["sysroot"] == str(machine)


def test_missing_pmemctl_fails_clearly(tmp_path: Path) -> None:
    machine = make_machine("cxl-hmem", tmp_path / "m")
    play = INFO_PLAY.format(sysroot=machine, program=tmp_path / "nowhere" / "pmemctl", gather="[list]")
    result = run_playbook(tmp_path, play)
    assert result.rc == 2
    facts = result.task("facts")
    assert facts["failed"] and "does not exist or is not executable" in facts["msg"]


def test_old_pmemctl_fails_naming_both_versions(tmp_path: Path) -> None:
    machine = make_machine("cxl-hmem", tmp_path / "m")
    old = tmp_path / "old" / "pmemctl"
    old.parent.mkdir()
    old.write_text("#!/bin/sh\necho 'pmemctl 0.0.3'\n")
    old.chmod(0o755)
    result = run_playbook(tmp_path, INFO_PLAY.format(sysroot=machine, program=old, gather="[list]"))
    facts = result.task("facts")
    assert facts["failed"] and "pmemctl 0.0.3" in facts["msg"] and "older than 0.1.0" in facts["msg"]
    assert "upgrade pmemctl" in facts["msg"]


def test_pmemctl_from_path(tmp_path: Path) -> None:
    """Without `executable`, pmemctl is found on the PATH of the managed host."""
    machine = make_machine("qemu-nvdimm", tmp_path / "m")
    program = write_pmemctl_program(tmp_path / "bin")
    play = f"""
- hosts: all
  gather_facts: false
  environment:
    PATH: "{program.parent}:{{{{ ansible_env.PATH | default('/usr/bin:/bin') }}}}"
  tasks:
    - name: facts
      pmemctl.memory.pmemctl_info:
        sysroot: {machine}
        gather: [blocks]
"""
    result = run_playbook(tmp_path, play)
    assert result.rc == 0, result.explain()
    assert result.task("facts")["blocks"]["sysroot"] == str(machine)
