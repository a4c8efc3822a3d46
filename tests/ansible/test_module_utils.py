"""Unit tests of the collection's module_utils/pmemctl_cli.py (the TOML
emitter, version parsing, paths, and the pmemctl runner with a recorded
Ansible module standing in for AnsibleModule)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.ansible.ansible_support import load_module_utils

cli = load_module_utils()
tomllib = pytest.importorskip("tomllib", reason="tomllib (Python 3.11) reads the TOML back")


# ------------------------------------------------------------------ versions


@pytest.mark.parametrize(("text", "version"), [
    ("pmemctl 0.1.0\n", (0, 1, 0)),
    ("pmemctl, version 1.12.3", (1, 12, 3)),
    ("pmemctl 2.0", (2, 0, 0)),
])
def test_parse_version(text: str, version: tuple[int, int, int]) -> None:
    assert cli.parse_version(text) == version


def test_parse_version_refuses_garbage() -> None:
    with pytest.raises(cli.PmemctlCliError, match="cannot read a version"):
        cli.parse_version("command not found")


# ---------------------------------------------------------------------- TOML

CONTRACT_LAYOUT: dict[str, Any] = {
    "version": 1,
    "policy": {"auto_online_blocks": "offline", "demotion_enabled": True, "numa_balancing": "memory-tiering"},
    "device": [
        {"name": "pmem-fast", "match": {"namespace_uuid": "0a1b"}, "expect": 1, "optional": False,
         "mode": "system-ram", "online": "all", "zone": "movable"},
        {"name": "cxl", "match": {"range": {"start": 0x1080000000, "size": 0x400000000}}, "mode": "system-ram",
         "online": 128, "normal": "4G"},
    ],
    "region": [{"name": "r0", "match": {"region": "region0"}, "allow_destroy": False,
                "namespaces": [{"name": "db", "size": "16G", "mode": "devdax"}]}],
}


def test_toml_round_trips_the_contract_layout() -> None:
    text = cli.toml_dumps(CONTRACT_LAYOUT, header="Managed by Ansible")
    assert text.startswith("# Managed by Ansible\nversion = 1\n")
    assert "\n[policy]\n" in text and text.count("[[device]]") == 2 and "[[region]]" in text
    assert tomllib.loads(text) == CONTRACT_LAYOUT


def test_toml_leaves_out_none_and_is_stable() -> None:
    document = {"version": 1, "policy": None, "device": [{"name": "a", "zone": None, "mode": "devdax"}]}
    text = cli.toml_dumps(document)
    assert tomllib.loads(text) == {"version": 1, "device": [{"name": "a", "mode": "devdax"}]}
    assert cli.toml_dumps(document) == text  # same input, same bytes: idempotent file writes


def test_toml_refuses_what_it_cannot_write() -> None:
    with pytest.raises(TypeError, match="cannot write"):
        cli.toml_dumps({"version": 1, "when": object()})
    with pytest.raises(ValueError, match="NaN"):
        cli.toml_dumps({"x": float("nan")})


@given(st.text(max_size=40), st.text(min_size=1, max_size=12))
def test_toml_strings_and_keys_round_trip(value: str, key: str) -> None:
    document = {key: value, "t": {key: [value, 1, True]}}
    assert tomllib.loads(cli.toml_dumps(document)) == document


def test_drop_none_at_every_depth() -> None:
    assert cli.drop_none({"a": None, "b": [{"c": None, "d": 1}], "e": {"f": None}}) == {"b": [{"d": 1}], "e": {}}


# --------------------------------------------------------------------- paths


def test_under_sysroot() -> None:
    assert cli.under_sysroot(None, "/etc/pmemctl") == "/etc/pmemctl"
    assert cli.under_sysroot("/", "/etc/pmemctl") == "/etc/pmemctl"
    assert cli.under_sysroot("/tmp/m", "/etc/pmemctl/conf.d/a.toml") == "/tmp/m/etc/pmemctl/conf.d/a.toml"


def test_layout_files_in_pmemctl_order(tmp_path: Path) -> None:
    conf = tmp_path / "etc/pmemctl/conf.d"
    conf.mkdir(parents=True)
    for name in ("20-b.toml", "10-a.toml", "notes.txt"):
        (conf / name).write_text("version = 1\n")
    assert cli.layout_files(str(tmp_path)) == [str(conf / "10-a.toml"), str(conf / "20-b.toml")]
    (tmp_path / "etc/pmemctl/pmemctl.toml").write_text("version = 1\n")
    assert cli.layout_files(str(tmp_path))[0] == str(tmp_path / "etc/pmemctl/pmemctl.toml")


# ----------------------------------------------------------------- documents


def test_plan_is_empty() -> None:
    assert cli.plan_is_empty({"plan": None, "items": [{"status": "converged"}]})
    assert cli.plan_is_empty({"plan": {"steps": []}, "items": []})
    assert not cli.plan_is_empty({"plan": {"steps": [{"kind": "bind"}]}})
    assert not cli.plan_is_empty({"plan": None, "items": [{"status": "planned"}]})


def test_device_states_and_error_of() -> None:
    doc = {"items": [{"name": "a", "actual": {"mode": "devdax"}, "desired": {"mode": "system-ram"}}]}
    assert cli.device_states(doc) == {"a": {"mode": "devdax"}}
    assert cli.device_wishes(doc) == {"a": ([], {"mode": "system-ram"})}
    assert cli.error_of({"error": {"message": "dax0.0 is mapped"}}, "") == "dax0.0 is mapped"
    assert cli.error_of(None, "warning\npmemctl: x.toml:3: bad mode\n") == "x.toml:3: bad mode"
    assert cli.load_json("not json") is None and cli.load_json('{"a": 1}') == {"a": 1}


# ------------------------------------------------------------------ the runner


class Failed(Exception):
    pass


class RecordedModule:
    """Stands in for AnsibleModule: params, run_command answers by argv, fail_json raises."""

    def __init__(self, params: dict[str, Any], answers: dict[str, tuple[int, str, str]],
                 on_path: Optional[str] = None) -> None:
        self.params = params
        self.answers = answers
        self.on_path = on_path
        self.commands: list[list[str]] = []

    def get_bin_path(self, name: str) -> Optional[str]:
        return self.on_path

    def run_command(self, argv: list[str], environ_update: Optional[dict[str, str]] = None) -> tuple[int, str, str]:
        self.commands.append(argv)
        for key, answer in self.answers.items():
            if key in " ".join(argv):
                return answer
        raise AssertionError(f"unexpected command {argv}")

    def fail_json(self, **result: Any) -> None:
        raise Failed(result["msg"], result)


@pytest.fixture()
def program(tmp_path: Path) -> str:
    path = tmp_path / "pmemctl"
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_missing_pmemctl_fails_clearly() -> None:
    module = RecordedModule({"sysroot": None, "executable": None}, {})
    with pytest.raises(Failed, match="pmemctl is not installed on this host"):
        cli.Pmemctl(module)


def test_old_pmemctl_fails_with_both_versions(program: str) -> None:
    module = RecordedModule({"sysroot": None, "executable": program}, {"--version": (0, "pmemctl 0.0.9\n", "")})
    with pytest.raises(Failed, match=r"pmemctl 0\.0\.9 at .* is older than 0\.1\.0.*upgrade pmemctl"):
        cli.Pmemctl(module)


def test_command_missing_from_pmemctl_asks_for_an_upgrade(program: str, tmp_path: Path) -> None:
    module = RecordedModule({"sysroot": str(tmp_path), "executable": program}, {
        "--version": (0, "pmemctl 0.1.0\n", ""),
        "apply": (2, "", "pmemctl: No such command 'apply'; see 'pmemctl --help'\n"),
    })
    runner = cli.Pmemctl(module)
    with pytest.raises(Failed, match=r"pmemctl 0\.1\.0 at .* has no 'apply' command .*upgrade pmemctl"):
        runner.run(["apply", "--dry-run"])
    assert module.commands[-1] == [program, "--sysroot", str(tmp_path), "apply", "--dry-run"]


def test_failed_json_command_carries_exit_code_and_error(program: str) -> None:
    module = RecordedModule({"sysroot": None, "executable": program}, {
        "--version": (0, "pmemctl 0.1.0\n", ""),
        "apply": (5, '{"error": {"message": "dax0.0 is in use by redis (pid 7)", "exit_code": 5}}', ""),
    })
    with pytest.raises(Failed) as caught:
        cli.Pmemctl(module).run_json(["apply"])
    message, result = caught.value.args
    assert "(exit 5): dax0.0 is in use by redis (pid 7)" in message
    assert result["rc"] == 5 and result["error"]["exit_code"] == 5


def test_sysroot_must_exist(program: str, tmp_path: Path) -> None:
    module = RecordedModule({"sysroot": str(tmp_path / "nope"), "executable": program},
                            {"--version": (0, "pmemctl 0.1.0\n", "")})
    with pytest.raises(Failed, match="sysroot .*nope is not a directory"):
        cli.Pmemctl(module)
    assert os.path.exists(program)


def test_error_of_names_missing_devices() -> None:
    doc = {"items": [{"name": "fast", "status": "missing", "difference": "no device matches namespace=namespace9.9"},
                     {"name": "ok", "status": "converged", "difference": None}]}
    assert cli.error_of(doc, "") == "fast: no device matches namespace=namespace9.9"
    refused = {"plan": {"checks": [{"name": "dax-in-use", "ok": False, "warning": False, "message": "in use"},
                                   {"name": "ratio", "ok": False, "warning": True, "message": "high"}]}}
    assert cli.error_of(refused, "") == "refused: in use"
    refused["plan"]["checks"][0]["override"] = "--force"
    assert cli.plan_refusals(refused) == ["in use"] and cli.plan_refusals(refused, forced=True) == []


def test_refusals_read_schema_version_2_checks() -> None:
    """Version 2 says a check's verdict in one ``status``; a warning or an
    overridden check is no refusal."""
    doc = {"schema_version": 2, "plan": {"checks": [
        {"name": "dax-in-use", "status": "refused", "message": "in use", "override": None},
        {"name": "ratio", "status": "warning", "message": "high", "override": None},
        {"name": "zone-normal", "status": "overridden", "message": "boot memory", "override": "--force"},
        {"name": "memmap", "status": "ok", "message": "fits", "override": None}]}}
    assert cli.plan_refusals(doc) == ["in use"]
    assert cli.error_of(doc, "") == "refused: in use"
    doc["plan"]["checks"][0]["override"] = "--force"
    assert cli.plan_refusals(doc, forced=True) == []


@pytest.mark.parametrize(("version", "readable"), [(1, True), (2, True), (3, False), (None, False)])
def test_schema_versions_read(program: str, version: Optional[int], readable: bool) -> None:
    """Versions 1 and 2 are read; any other fails with an upgrade hint
    rather than being misread."""
    document = '{"schema_version": %s, "command": "topology"}' % ("null" if version is None else version)
    module = RecordedModule({"sysroot": None, "executable": program}, {
        "--version": (0, "pmemctl 0.1.0\n", ""), "topology": (0, document, "")})
    runner = cli.Pmemctl(module)
    if readable:
        assert runner.run_json(["topology"])[1]["schema_version"] == version
    else:
        with pytest.raises(Failed, match=r"schema version .*reads versions 1, 2: upgrade the pmemctl.memory"):
            runner.run_json(["topology"])
