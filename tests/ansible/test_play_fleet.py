"""The role pmemctl.memory.provision over an inventory of 8 simulated
machines (each its own sysroot through host vars), run with forks; and
pmemctl_boot on its own (install, idempotence, check mode, removal)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ansible.ansible_support import (
    REPO,
    PlayResult,
    ansible_env,
    make_machine,
    pmemctl,
    require_ansible,
    run_playbook,
    tree_digest,
    write_pmemctl_program,
)
from tests.ansible.scenarios import MACHINES

FLEET_PLAY = """
- hosts: all
  gather_facts: false
  roles:
    - role: pmemctl.memory.provision
"""


@pytest.fixture(scope="module", autouse=True)
def _ansible() -> None:
    require_ansible()


def test_eight_machines_converge_with_forks(tmp_path: Path) -> None:
    program = write_pmemctl_program(tmp_path / "bin")
    scenarios = sorted(MACHINES) * 2
    hosts = {}
    for index, scenario in enumerate(scenarios):
        sets, layout, _devices = MACHINES[scenario]
        machine = make_machine(scenario, tmp_path / f"machine{index}", *sets)
        hosts[f"{scenario}-{index}"] = {"pmemctl_sysroot": str(machine), "pmemctl_layout": layout,
                                        "pmemctl_boot_before": [f"workload{index}.service"]}
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": hosts, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "pmemctl_install": False, "pmemctl_executable": str(program)}}}))

    result = run_playbook(tmp_path, FLEET_PLAY, inventory=str(inventory), extra=("--forks", "8"))
    assert result.rc == 0, result.explain()
    assert sorted(result.stats) == sorted(hosts)
    for host, stats in result.stats.items():
        # the role's argument check ok; pip skipped (pmemctl_install false); layout, boot units and
        # apply changed; the daemon-reload handler notified and skipped (a sysroot has no systemd)
        assert (stats["ok"], stats["changed"], stats["skipped"], stats["failures"], stats["unreachable"]) == \
            (4, 3, 2, 0, 0), (host, stats)
        machine = hosts[host]["pmemctl_sysroot"]
        assert pmemctl("--sysroot", machine, "apply", "--check", check=False).returncode == 0, host
        status = json.loads(pmemctl("--sysroot", machine, "boot", "status", "--json", check=False).stdout)
        drop_in = f"/etc/systemd/system/{hosts[host]['pmemctl_boot_before'][0]}.d/50-pmemctl.conf"
        assert drop_in in [entry["path"] for entry in status["files"]], (host, status)
        assert result.task("Converge the memory to the layout", host)["changed"]

    again = run_playbook(tmp_path, FLEET_PLAY, inventory=str(inventory), extra=("--forks", "8"))
    assert again.rc == 0, again.explain()
    assert {host: stats["changed"] for host, stats in again.stats.items()} == dict.fromkeys(hosts, 0)


BOOT_PLAY = """
- hosts: all
  gather_facts: false
  module_defaults:
    group/pmemctl.memory.all:
      sysroot: {machine}
      executable: {program}
  tasks:
    - name: units
      pmemctl.memory.pmemctl_boot:
        state: {state}
        before: {before}
"""


def test_boot_units_install_idempotent_check_and_remove(tmp_path: Path) -> None:
    machine = make_machine("cxl-hmem", tmp_path / "m")
    program = write_pmemctl_program(tmp_path / "bin")
    units = machine / "etc/systemd/system"

    def play(state: str, before: str) -> str:
        return BOOT_PLAY.format(machine=machine, program=program, state=state, before=before)

    first = run_playbook(tmp_path, play("present", "[db.service]"), diff=True)
    task = first.task("units")
    assert first.rc == 0 and task["changed"], first.explain()
    assert (units / "pmemctl-apply.service").is_file() and (units / "db.service.d/50-pmemctl.conf").is_file()
    shown = {diff["after_header"]: diff["after"] for diff in task["diff"]}
    assert shown["/etc/systemd/system/pmemctl-apply.service"] == (units / "pmemctl-apply.service").read_text()
    assert task["files"]["/etc/systemd/system/db.service.d/50-pmemctl.conf"] == "create"

    digest = tree_digest(machine)
    second = run_playbook(tmp_path, play("present", "[db.service]"))
    assert second.rc == 0 and not second.task("units")["changed"], second.explain()
    assert tree_digest(machine) == digest

    checked = run_playbook(tmp_path, play("present", "[web.service]"), check=True, diff=True)
    task = checked.task("units")
    assert checked.rc == 0 and task["changed"], checked.explain()
    assert task["files"]["/etc/systemd/system/web.service.d/50-pmemctl.conf"] == "create"
    assert task["files"]["/etc/systemd/system/db.service.d/50-pmemctl.conf"] == "remove"
    removed = [diff for diff in task["diff"] if diff["before_header"].endswith("db.service.d/50-pmemctl.conf")]
    assert removed and removed[0]["before"] and removed[0]["after"] == ""
    assert tree_digest(machine) == digest

    gone = run_playbook(tmp_path, play("absent", "[]"))
    assert gone.rc == 0 and gone.task("units")["changed"], gone.explain()
    assert not (units / "pmemctl-apply.service").exists() and not (units / "db.service.d/50-pmemctl.conf").exists()


def test_readme_playbook_runs_in_one_command(tmp_path: Path) -> None:
    """The README's "Fleets with Ansible" command, as printed (the demo machine
    moved into this test's directory), twice: changed, then converged."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Fleets with Ansible"):readme.index("## Safety model")]
    command = section.split("```sh\n", 1)[1].split("\n```", 1)[0].strip()
    assert command.startswith("ANSIBLE_COLLECTIONS_PATH=pmemctl/contrib/ansible ansible-playbook ")
    env_assignment, argv = command.split(" ", 1)
    program = write_pmemctl_program(tmp_path / "bin")
    env = ansible_env(tmp_path)
    env.pop("ANSIBLE_PYTHON_INTERPRETER")  # the playbook chooses its own, as a reader's run would
    env["ANSIBLE_COLLECTIONS_PATH"] = str(REPO / env_assignment.split("=", 1)[1])
    env["PATH"] = f"{program.parent}:{env['PATH']}"
    machine = tmp_path / "demo"
    for expected_changes in (4, 0):  # machine created, layout, boot units, apply; then nothing
        completed = subprocess.run([*shlex.split(argv), "-e", f"sysroot={machine}"], cwd=REPO, env=env,
                                   capture_output=True, text=True, check=False)
        result = PlayResult(completed)
        assert result.rc == 0, result.explain()
        assert result.stats["localhost"]["changed"] == expected_changes, result.explain()
    assert pmemctl("--sysroot", str(machine), "apply", "--check", check=False).returncode == 0


def test_role_in_check_mode_installs_and_writes_nothing(tmp_path: Path) -> None:
    """The whole role in check mode, pip included (pmemctl is installed, so the
    pip task has nothing to do): it reports the layout, units and apply it
    would change, and the machine's tree is untouched."""
    program = write_pmemctl_program(tmp_path / "bin")
    sets, layout, _devices = MACHINES["cxl-hmem"]
    machine = make_machine("cxl-hmem", tmp_path / "m", *sets)
    conf = machine / "etc/pmemctl/conf.d"
    conf.mkdir(parents=True)
    (conf / "ansible.toml").write_text("version = 1\n")  # an older, empty layout of the role
    digest = tree_digest(machine)
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"m": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "pmemctl_sysroot": str(machine), "pmemctl_layout": layout, "pmemctl_executable": str(program),
        "pmemctl_install": True, "pmemctl_package": "pmemctl"}}}}))
    result = run_playbook(tmp_path, FLEET_PLAY, inventory=str(inventory), check=True, diff=True)
    assert result.rc == 0, result.explain()
    assert not result.task("Install pmemctl", "m")["changed"]
    assert result.task("Write the layout file", "m")["changed"]
    assert result.task("Install the boot units and workload drop-ins", "m")["changed"]
    # apply reads the files on disk: the empty layout asks for nothing yet
    assert not result.task("Converge the memory to the layout", "m")["changed"]
    assert tree_digest(machine) == digest
