"""Support bundles: the same findings from the unpacked bundle; bad bundles refused."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any, Callable

import pytest
from cli_support import one_line
from doctor_support import Build

CONDITIONS = ("acpi-tables", "kconfig", "udev-rule", "daxctl-config", "auto-online=online", "stranded",
              "dmesg=dax0.0: memory hotplug: cannot be hotremoved until the next reboot")


def _findings(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What must survive the trip: ID, subject, evidence (fix texts carry the sysroot)."""
    return [(f["id"], f["severity"], f["subject"], json.dumps(f["evidence"])) for f in doc["findings"]]


@pytest.fixture
def bundle(build: Build, invoke: Callable[..., Any], tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    tree = build("qemu-nvdimm", {"stage": "system-ram"}, *CONDITIONS)
    out = tmp_path / "support.tar.gz"
    result = invoke("--sysroot", tree, "doctor", "--json", "--bundle", out)
    assert result.exit_code == 12 and out.is_file()
    return tree, out, json.loads(result.stdout)


def test_round_trip_gives_the_same_findings(bundle: Any, invoke: Callable[..., Any], tmp_path: Path,
                                            doctor: Callable[..., Any]) -> None:
    _tree, out, before = bundle
    dest = tmp_path / "unpacked"
    result = invoke("sim", "unpack", out, dest)
    assert result.exit_code == 0, result.stderr
    assert f"pmemctl --sysroot {dest} doctor" in result.stdout
    _code, after = doctor(dest)
    assert _findings(after) == _findings(before)
    assert "stranded-memory" in {f[0] for f in _findings(after)}
    meta = json.loads((dest / ".pmemctl-bundle/bundle.json").read_text())
    assert meta["versions"]["pmemctl"] and meta["dmesg"] is True
    assert "/etc/daxctl.conf.d/pmem.conf" in meta["files"]
    assert (dest / "usr/lib/udev/rules.d/40-redhat.rules").is_file()
    assert "hotremoved" in (dest / ".pmemctl-bundle/dmesg.txt").read_text()


def test_plain_tar_works_too(bundle: Any, tmp_path: Path, doctor: Callable[..., Any]) -> None:
    _tree, out, before = bundle
    dest = tmp_path / "tar"
    dest.mkdir()
    with tarfile.open(out) as tar:
        for m in tar.getmembers():
            m.name = os.path.relpath(m.name, "pmemctl-bundle")
        tar.extractall(dest, members=[m for m in tar.getmembers() if m.name != "."], filter="tar")
    assert _findings(doctor(dest)[1]) == _findings(before)


def _unpack_error(invoke: Callable[..., Any], path: Path, dest: Path) -> str:
    result = invoke("sim", "unpack", path, dest)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert not dest.exists() or not any(dest.iterdir())
    return one_line(result.stderr)


def test_truncated_bundle(bundle: Any, invoke: Callable[..., Any], tmp_path: Path) -> None:
    _tree, out, _doc = bundle
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(out.read_bytes()[: out.stat().st_size // 2])
    assert "truncated" in _unpack_error(invoke, cut, tmp_path / "d")


def test_not_a_bundle(invoke: Callable[..., Any], tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_text("hello\n")
    assert "not a gzip-compressed tar file" in _unpack_error(invoke, junk, tmp_path / "d")
    other = tmp_path / "other.tar.gz"
    with tarfile.open(other, "w:gz") as tar:
        _add(tar, "pmemctl-bundle/sys/devices/x", b"1")
    assert "not a pmemctl support bundle" in _unpack_error(invoke, other, tmp_path / "e")


def _add(tar: tarfile.TarFile, name: str, data: bytes = b"", *, link: str | None = None) -> None:
    info = tarfile.TarInfo(name)
    if link is not None:
        info.type, info.linkname = tarfile.SYMTYPE, link
        tar.addfile(info)
        return
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _evil(tmp_path: Path, name: str, **kw: Any) -> Path:
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, "pmemctl-bundle/.pmemctl-bundle/bundle.json", b"{}")
        _add(tar, "pmemctl-bundle/sys/devices/x", b"1")
        _add(tar, name, b"owned", **kw)
    return path


@pytest.mark.parametrize("name,kw,said", [
    ("pmemctl-bundle/../../escape", {}, "outside pmemctl-bundle/"),
    ("/etc/passwd-pmemctl-test", {}, "outside pmemctl-bundle/"),
    ("elsewhere/file", {}, "outside pmemctl-bundle/"),
    ("pmemctl-bundle/sys/link", {"link": "/etc"}, "points outside the bundle"),
    ("pmemctl-bundle/sys/link", {"link": "../../.."}, "points outside the bundle"),
])
def test_escaping_paths_are_refused(invoke: Callable[..., Any], tmp_path: Path, name: str, kw: dict[str, Any],
                                    said: str) -> None:
    line = _unpack_error(invoke, _evil(tmp_path, name, **kw), tmp_path / "d")
    assert said in line
    assert not (tmp_path / "escape").exists()


def test_unpack_into_a_non_empty_directory_is_refused(bundle: Any, invoke: Callable[..., Any],
                                                      tmp_path: Path) -> None:
    _tree, out, _doc = bundle
    dest = tmp_path / "full"
    dest.mkdir()
    (dest / "keep").write_text("mine")
    result = invoke("sim", "unpack", out, dest)
    assert result.exit_code == 5 and (dest / "keep").read_text() == "mine"


def test_missing_bundle_file(invoke: Callable[..., Any], tmp_path: Path) -> None:
    result = invoke("sim", "unpack", tmp_path / "nope.tar.gz", tmp_path / "d")
    assert result.exit_code == 8 and "does not exist" in one_line(result.stderr)


def test_bundle_into_a_missing_directory(build: Build, invoke: Callable[..., Any], tmp_path: Path) -> None:
    tree = build("qemu-nvdimm", {"stage": "raw"})
    result = invoke("--sysroot", tree, "doctor", "--bundle", tmp_path / "no/such/dir/b.tar.gz")
    assert result.exit_code == 5
    assert "cannot write the bundle" in one_line(result.stderr)
