"""``pmemctl boot install|uninstall|status`` against a directory root."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_support import Invoke, check_schema, one_line, tree_digest

from pmemctl.ops import boot as boot_ops
from pmemctl.sysfs import etcfiles

UNITS = "etc/systemd/system"
APPLY = f"{UNITS}/pmemctl-apply.service"
TARGET = f"{UNITS}/pmemctl-memory.target"
DROPIN = f"{UNITS}/demo-db.service.d/50-pmemctl.conf"
BOOT_DROPIN = f"{UNITS}/multi-user.target.d/50-pmemctl.conf"
HOTPLUG = f"{UNITS}/pmemctl-apply-hotplug.service"
RULE = "etc/udev/rules.d/90-pmemctl.rules"
MANIFEST = "etc/pmemctl/boot-units.json"


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _keys(text: str, key: str) -> list[str]:
    """Values of ``key=`` lines of a unit file (comments ignored)."""
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(key + "=")]


def test_install_writes_the_units_the_contract_names(invoke: Invoke, root: Path) -> None:
    r = invoke("boot", "install", "--root", root, "--before", "demo-db.service", "--udev-rule", "--wait", "45",
               "--timeout", "600")
    assert r.exit_code == 0, r.stderr
    assert "systemctl daemon-reload" in r.stdout
    apply = (root / APPLY).read_text()
    assert _keys(apply, "Type") == ["oneshot"] and _keys(apply, "RemainAfterExit") == ["yes"]
    assert _keys(apply, "TimeoutStartSec") == ["600"]
    assert _keys(apply, "SuccessExitStatus") == ["3"]  # converged is success
    after = " ".join(_keys(apply, "After")).split()
    assert {"systemd-udev-trigger.service", "systemd-modules-load.service"} <= set(after)
    assert "pmemctl-memory.target" in " ".join(_keys(apply, "Before"))
    assert "udev-settle" not in apply
    assert "|/etc/pmemctl/pmemctl.toml" in _keys(apply, "ConditionPathExists")
    assert "|/etc/pmemctl/conf.d" in _keys(apply, "ConditionDirectoryNotEmpty")
    (exec_start,) = _keys(apply, "ExecStart")
    assert exec_start.endswith(" apply --wait 45 --yes")
    assert os.path.isabs(exec_start.split()[0]) and os.access(exec_start.split()[0], os.X_OK)
    target = (root / TARGET).read_text()
    assert _keys(target, "Requires") == _keys(target, "After") == ["pmemctl-apply.service"]
    dropin = (root / DROPIN).read_text()
    assert _keys(dropin, "After") == ["pmemctl-memory.target"] and _keys(dropin, "Wants") == ["pmemctl-memory.target"]
    assert _keys((root / BOOT_DROPIN).read_text(), "Wants") == ["pmemctl-memory.target"]
    rule = (root / RULE).read_text()
    assert 'SUBSYSTEM=="dax"' in rule and 'ENV{SYSTEMD_WANTS}+="pmemctl-apply-hotplug.service"' in rule
    hotplug = (root / HOTPLUG).read_text()
    assert _keys(hotplug, "ExecStart") == [exec_start] and not _keys(hotplug, "RemainAfterExit")
    manifest = json.loads((root / MANIFEST).read_text())
    assert sorted(manifest["files"]) == sorted("/" + p for p in (APPLY, TARGET, DROPIN, BOOT_DROPIN, HOTPLUG, RULE))
    for f in (APPLY, TARGET, DROPIN, RULE):
        assert oct((root / f).stat().st_mode & 0o777) == "0o644"


def test_second_install_changes_nothing_and_exits_3(invoke: Invoke, root: Path) -> None:
    args = ("boot", "install", "--root", root, "--before", "demo-db.service", "--udev-rule")
    assert invoke(*args).exit_code == 0
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.rglob("*")}
    r = invoke(*args)
    assert r.exit_code == 3, r.stdout
    assert "nothing written" in r.stdout
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.rglob("*")} == before


def test_dry_run_shows_files_and_content_and_writes_nothing(invoke: Invoke, root: Path) -> None:
    digest = tree_digest(root)
    r = invoke("boot", "install", "--root", root, "--before", "demo-db.service", "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert tree_digest(root) == digest
    assert f"cat > {root / APPLY} <<'EOF'" in r.stdout
    assert "Type=oneshot" in r.stdout and "After=pmemctl-memory.target" in r.stdout
    assert f"create /{DROPIN}" in r.stdout
    # the shell shown does what install does
    script = r.stdout.split("as shell", 1)[1].split("\n", 1)[1]
    lines = [ln[2:] if ln.startswith("  ") else ln for ln in script.splitlines()]
    shell_root = root.parent / "by-shell"
    shutil.copytree(root, shell_root)
    text = "\n".join(lines).replace(str(root), str(shell_root))
    subprocess.run(["sh", "-ec", text], check=True)
    assert invoke("boot", "install", "--root", root, "--before", "demo-db.service").exit_code == 0
    assert _files(shell_root) == _files(root)


def test_uninstall_removes_exactly_what_install_wrote(invoke: Invoke, root: Path) -> None:
    (root / "etc/udev/rules.d").mkdir(parents=True)
    (root / "etc/udev/rules.d/40-vendor.rules").write_text("# the distribution's\n")
    (root / f"{UNITS}/demo-db.service.d").mkdir()
    (root / f"{UNITS}/demo-db.service.d/10-limits.conf").write_text("[Service]\nLimitMEMLOCK=infinity\n")
    digest = tree_digest(root)
    assert invoke("boot", "install", "--root", root, "--before", "demo-db.service", "--before", "other.service",
                  "--udev-rule").exit_code == 0
    assert (root / f"{UNITS}/other.service.d/50-pmemctl.conf").is_file()
    r = invoke("boot", "uninstall", "--root", root, "--dry-run")
    assert r.exit_code == 0 and f"rm {root / APPLY}" in r.stdout and (root / APPLY).exists()
    r = invoke("boot", "uninstall", "--root", root)
    assert r.exit_code == 0, r.stderr
    assert tree_digest(root) == digest  # the directories it made are gone too, others kept
    assert sorted(p.name for p in root.rglob("*.d")) == ["demo-db.service.d", "rules.d"]
    r = invoke("boot", "uninstall", "--root", root)
    assert r.exit_code == 3 and "nothing to remove" in r.stdout


def test_uninstall_keeps_a_file_edited_after_install(invoke: Invoke, root: Path) -> None:
    assert invoke("boot", "install", "--root", root, "--before", "demo-db.service").exit_code == 0
    (root / DROPIN).write_text((root / DROPIN).read_text() + "Requires=pmemctl-memory.target\n")
    r = invoke("boot", "uninstall", "--root", root)
    assert r.exit_code == 0
    assert "edited after install and is left in place" in r.stdout
    assert (root / DROPIN).is_file() and not (root / APPLY).exists() and not (root / MANIFEST).exists()


def test_reinstall_with_other_units_rewrites_the_set(invoke: Invoke, root: Path) -> None:
    assert invoke("boot", "install", "--root", root, "--before", "a.service").exit_code == 0
    r = invoke("boot", "install", "--root", root, "--before", "b.service", "--json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    check_schema(doc)
    changes = {f["path"]: f["change"] for f in doc["files"]}
    assert changes[f"/{UNITS}/a.service.d/50-pmemctl.conf"] == "remove"
    assert changes[f"/{UNITS}/b.service.d/50-pmemctl.conf"] == "create"
    assert changes[f"/{APPLY}"] == "unchanged"
    assert not (root / f"{UNITS}/a.service.d").exists()  # the directory it made, removed
    assert json.loads((root / MANIFEST).read_text())["settings"]["before"] == ["b.service"]


def test_a_file_not_written_by_pmemctl_is_never_replaced(invoke: Invoke, root: Path) -> None:
    (root / f"{UNITS}/demo-db.service.d").mkdir()
    (root / DROPIN).write_text("[Unit]\nAfter=network.target\n")
    digest = tree_digest(root)
    r = invoke("boot", "install", "--root", root, "--before", "demo-db.service")
    assert r.exit_code == 5
    assert "was not written by 'pmemctl boot install'" in one_line(r.stderr)
    assert tree_digest(root) == digest


@pytest.mark.parametrize("link", ["directory", "file", "inside"])
def test_symlinks_are_refused_never_followed(invoke: Invoke, root: Path, tmp_path: Path, link: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    if link == "directory":  # etc/udev -> a directory outside the root
        (root / "etc/udev").symlink_to(outside)
    elif link == "file":  # the unit itself is a link to a file outside
        (outside / "victim").write_text("keep me\n")
        (root / APPLY).symlink_to(outside / "victim")
    else:  # even a link that stays inside the root is not followed
        (root / "etc/elsewhere").mkdir()
        (root / "etc/pmemctl").symlink_to(root / "etc/elsewhere")
    digest, outside_digest = tree_digest(root), tree_digest(outside)
    r = invoke("boot", "install", "--root", root, "--udev-rule")
    assert r.exit_code == 5, r.stdout
    assert "symbolic link" in one_line(r.stderr)
    assert tree_digest(root) == digest and tree_digest(outside) == outside_digest


@pytest.mark.parametrize("unit", ["../evil.service", "docker", "a/b.service", "pmemctl-apply.service", ".service"])
def test_bad_unit_names_are_usage_errors(invoke: Invoke, root: Path, unit: str) -> None:
    digest = tree_digest(root)
    r = invoke("boot", "install", "--root", root, "--before", unit)
    assert r.exit_code == 2
    assert "is not a workload unit name" in one_line(r.stderr)
    assert tree_digest(root) == digest


def test_status_reports_what_is_installed_and_whether_it_is_current(invoke: Invoke, root: Path) -> None:
    r = invoke("boot", "status", "--root", root, "--json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    check_schema(doc)
    assert doc["state"] == "not-installed" and doc["settings"] is None and doc["files"] == []
    assert invoke("boot", "install", "--root", root, "--before", "demo-db.service").exit_code == 0
    doc = json.loads(invoke("boot", "status", "--root", root, "--json").stdout)
    check_schema(doc)
    assert doc["state"] == "current" and doc["settings"]["before"] == ["demo-db.service"]
    assert {f["state"] for f in doc["files"]} == {"current"}
    # edited by hand, removed, and older than the templates (as installed, manifest agreeing)
    (root / DROPIN).write_text("[Unit]\n")
    (root / TARGET).unlink()
    old = (root / APPLY).read_text().replace("TimeoutStartSec=900", "TimeoutStartSec=90")
    (root / APPLY).write_text(old)
    manifest = json.loads((root / MANIFEST).read_text())
    manifest["files"][f"/{APPLY}"]["sha256"] = boot_ops.digest(old.encode())
    (root / MANIFEST).write_text(json.dumps(manifest))
    r = invoke("boot", "status", "--root", root, "--json")
    assert r.exit_code == 11
    doc = json.loads(r.stdout)
    check_schema(doc)
    states = {f["path"]: f["state"] for f in doc["files"]}
    assert states == {f"/{DROPIN}": "modified", f"/{TARGET}": "missing", f"/{APPLY}": "outdated",
                      f"/{BOOT_DROPIN}": "current"}
    assert doc["state"] == "drifted"
    text = invoke("boot", "status", "--root", root).stdout
    assert "outdated" in text
    assert f"run 'pmemctl boot install --root {root} --before demo-db.service --wait 60 --timeout 900'" in text
    # install puts it right
    assert invoke("boot", "install", "--root", root, "--before", "demo-db.service").exit_code == 0
    assert invoke("boot", "status", "--root", root).exit_code == 0


def test_json_documents_have_the_same_keys_every_time(invoke: Invoke, root: Path) -> None:
    docs = [json.loads(invoke("boot", "install", "--root", root, "--dry-run", "--json").stdout),
            json.loads(invoke("boot", "install", "--root", root, "--json").stdout),
            json.loads(invoke("boot", "install", "--root", root, "--json").stdout),
            json.loads(invoke("boot", "status", "--root", root, "--json").stdout),
            json.loads(invoke("boot", "uninstall", "--root", root, "--json").stdout),
            json.loads(invoke("boot", "uninstall", "--root", root, "--json").stdout)]
    for d in docs:
        check_schema(d)
    assert [d["state"] for d in docs] == ["planned", "changed", "unchanged", "current", "changed", "unchanged"]
    assert docs[0]["dry_run"] is True and docs[0]["files"][0]["content"].startswith("# Installed by")
    assert docs[5]["settings"] is None and docs[5]["files"] == []


def test_root_defaults_to_the_sysroot(invoke: Invoke, root: Path) -> None:
    r = invoke("--sysroot", root, "boot", "install")
    assert r.exit_code == 0, r.stderr
    assert (root / APPLY).is_file()
    doc = json.loads(invoke("--sysroot", root, "boot", "status", "--json").stdout)
    assert doc["root"] == str(root) and doc["sysroot"] == str(root)


def test_a_failed_write_puts_back_every_file(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = boot_ops.BootSettings(exec_start=("/usr/bin/pmemctl",), before=("demo-db.service",))
    boot_ops.apply_file_plan(boot_ops.plan_install(str(root), settings))
    first = _files(root)
    digest = tree_digest(root)
    plan = boot_ops.plan_install(str(root), boot_ops.BootSettings(exec_start=("/opt/pmemctl",),
                                                                  before=("new.service",), udev_rule=True))
    real = etcfiles.write_config
    calls = []

    def failing(r: str, path: str, content: bytes, mode: int = 0o644) -> list[str]:
        calls.append(path)
        if path.endswith("90-pmemctl.rules"):
            raise OSError(28, "No space left on device")
        return real(r, path, content, mode)

    monkeypatch.setattr(etcfiles, "write_config", failing)
    with pytest.raises(boot_ops.BootFileError) as err:
        boot_ops.apply_file_plan(plan)
    assert "every file changed before it was put back" in err.value.sentence()
    assert len(calls) > 3
    assert _files(root) == first and tree_digest(root) == digest
