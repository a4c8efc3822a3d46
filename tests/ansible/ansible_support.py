"""Shared helpers of the Ansible collection tests (tests/ansible).

The collection lives in pmemctl/contrib/ansible/ansible_collections/pmemctl/memory
and reaches pmemctl only through its command line, so the tests give it a
``pmemctl`` program that runs this checkout (not whatever is installed).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Optional

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / "pmemctl" / "contrib" / "ansible"
COLLECTION = COLLECTIONS / "ansible_collections" / "pmemctl" / "memory"
MODULE_UTILS = COLLECTION / "plugins" / "module_utils" / "pmemctl_cli.py"
MODULES = ("pmemctl_info", "pmemctl_layout", "pmemctl_apply", "pmemctl_boot")


def require_ansible() -> None:
    """The Ansible tests fail (not skip) without ansible-core: it is in the test extra
    (for controllers on Python 3.11 or later, which ansible-core 2.19 needs)."""
    import pytest

    if sys.version_info < (3, 11):
        pytest.skip("ansible-core 2.19 needs Python 3.11 or later on the controller")

    if shutil.which("ansible-playbook") is None or importlib.util.find_spec("ansible") is None:
        pytest.fail("ansible-core is not installed; it is in the test extra: pip install -e '.[test]'")


def load_module_utils() -> ModuleType:
    """module_utils/pmemctl_cli.py, loaded by path (it needs only the standard library)."""
    spec = importlib.util.spec_from_file_location("pmemctl_cli_under_test", MODULE_UTILS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_pmemctl_program(bin_dir: Path) -> Path:
    """A ``pmemctl`` program that runs this checkout with this Python."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    program = bin_dir / "pmemctl"
    program.write_text(f'#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m pmemctl "$@"\n')
    program.chmod(0o755)
    return program


def pmemctl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1")
    env.pop("PMEMCTL_SYSROOT", None)
    return subprocess.run([sys.executable, "-m", "pmemctl", *args], env=env, capture_output=True, text=True,
                          check=check)


def make_machine(scenario: str, directory: Path, *sets: str) -> Path:
    extra = [arg for value in sets for arg in ("--set", value)]
    pmemctl("sim", "create", "-s", scenario, *extra, str(directory))
    return directory


def tree_digest(root: Path) -> str:
    """One hash over every path, link and file content below ``root``."""
    digest = hashlib.sha256()
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        for name in sorted(files) + [d for d in subdirs if os.path.islink(os.path.join(directory, d))]:
            path = os.path.join(directory, name)
            digest.update(os.path.relpath(path, root).encode() + b"\0")
            if os.path.islink(path):
                digest.update(b"->" + os.readlink(path).encode())
            else:
                with open(path, "rb") as fh:
                    digest.update(fh.read())
    return digest.hexdigest()


def ansible_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PMEMCTL_SYSROOT", None)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
        ANSIBLE_STDOUT_CALLBACK="json_results",
        ANSIBLE_CALLBACK_PLUGINS=str(Path(__file__).resolve().parent / "callback"),
        ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-local"),
        ANSIBLE_REMOTE_TEMP=str(tmp / "ansible-remote"),
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_RETRY_FILES_ENABLED="False",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_DEPRECATION_WARNINGS="False",
        NO_COLOR="1",
    )
    return env


class PlayResult:
    """What one ansible-playbook run (json callback) reports."""

    def __init__(self, completed: subprocess.CompletedProcess[str]) -> None:
        self.rc = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        start = completed.stdout.find("{")
        try:
            self.doc: dict[str, Any] = json.loads(completed.stdout[start:]) if start >= 0 else {}
        except ValueError as err:
            raise AssertionError(f"ansible-playbook printed no JSON:\n{completed.stdout}\n{completed.stderr}") from err

    @property
    def stats(self) -> dict[str, dict[str, int]]:
        return dict(self.doc.get("stats", {}))

    def task(self, name: str, host: str = "localhost") -> dict[str, Any]:
        """The result of the task called ``name`` on ``host`` (a role's task
        is named ``ROLE : NAME``)."""
        for play in self.doc.get("plays", []):
            for task in play.get("tasks", []):
                called = task["task"]["name"]
                if (called == name or called.endswith(" : " + name)) and host in task["hosts"]:
                    return dict(task["hosts"][host])
        raise AssertionError(f"no task {name!r} ran on {host}: {self.explain()}")

    def explain(self) -> str:
        return f"rc={self.rc}\n{self.stdout[-6000:]}\n{self.stderr[-3000:]}"


def run_playbook(tmp: Path, playbook: str, *, inventory: Optional[str] = None, check: bool = False,
                 diff: bool = False, extra: tuple[str, ...] = ()) -> PlayResult:
    """ansible-playbook (the real engine, local connection) on ``playbook`` text."""
    path = tmp / f"play-{abs(hash(playbook))}.yml"
    path.write_text(playbook)
    argv = ["ansible-playbook", "-c", "local", str(path)]
    argv += ["-i", inventory] if inventory else ["-i", "localhost,"]
    if check:
        argv.append("--check")
    if diff:
        argv.append("--diff")
    argv += list(extra)
    completed = subprocess.run(argv, env=ansible_env(tmp), capture_output=True, text=True, check=False, cwd=tmp)
    return PlayResult(completed)
