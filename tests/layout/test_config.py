"""``pmemctl config init | show | import-daxctl``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import check_schema
from layout_support import Invoke, write_layout

NS01_DAX_UUID = "82f541b2-1671-546f-8007-a6782a76f756"  # optane-2s dax0.1 (system-ram, 80/94 online)
NS11_DAX_UUID = "65fdcf1c-a620-5b13-a040-4d87d0f490f2"  # optane-2s dax1.1 (devdax)


@pytest.mark.parametrize(("scenario", "params"), [("optane-2s", {}), ("cxl-hmem", {"mode": "system-ram"}),
                                                   ("cxl-hmem", {}), ("qemu-nvdimm", {"stage": "system-ram"})])
def test_init_then_apply_on_the_same_machine_is_converged(tree, invoke: Invoke, tmp_path: Path, scenario: str,
                                                          params: dict) -> None:
    root = tree(scenario, **params)
    out = tmp_path / "captured.toml"
    result = invoke("--sysroot", root, "config", "init", "--output", out)
    assert result.exit_code == 0, result.stderr
    text = out.read_text()
    assert text.count("[[device]]") >= 1
    assert 'device = "dax' not in text  # stable selectors only
    result = invoke("--sysroot", root, "apply", "--config", out, "--json")
    assert result.exit_code == 3, result.stdout
    doc = json.loads(result.stdout)
    assert all(i["status"] == "converged" for i in doc["items"]), doc["items"]


def test_init_refuses_to_overwrite_without_force(tree, invoke: Invoke, tmp_path: Path) -> None:
    root = tree("optane-2s")
    out = tmp_path / "x.toml"
    out.write_text("keep")
    result = invoke("--sysroot", root, "config", "init", "-o", out)
    assert result.exit_code == 2 and "exists already" in result.stderr
    assert out.read_text() == "keep"
    assert invoke("--sysroot", root, "config", "init", "-o", out, "--force").exit_code == 0
    assert "[[device]]" in out.read_text()


def test_init_captures_a_partly_online_device(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    result = invoke("--sysroot", root, "config", "init")
    assert 'namespace_uuid = "78bc899e-4a6e-5859-84ba-3dd6690d1206"' in result.stdout
    assert "online = 80" in result.stdout


def test_show_prints_the_merged_layout_and_json(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    write_layout(root, f'version = 1\n[[device]]\nname = "a"\nmatch = {{ dax_uuid = "{NS01_DAX_UUID}" }}\n'
                       'mode = "system-ram"\nonline = "50%"\n')
    write_layout(root, f'version = 1\n[[device]]\nname = "b"\nmatch = {{ dax_uuid = "{NS11_DAX_UUID}" }}\n'
                       'mode = "devdax"\n', "conf.d/10-b.toml")
    result = invoke("--sysroot", root, "config", "show")
    assert result.exit_code == 0
    import tomllib

    data = tomllib.loads(result.stdout)
    assert [d["name"] for d in data["device"]] == ["a", "b"]
    assert data["device"][0]["online"] == "50%"
    doc = json.loads(invoke("--sysroot", root, "config", "validate", "--json").stdout)
    check_schema(doc)
    check_schema(json.loads(invoke("--sysroot", root, "config", "show", "--json").stdout))
    assert doc["matched"] == {"a": ["dax0.1"], "b": ["dax1.1"]}
    assert doc["valid"] is True


def test_validate_bad_file_json_is_the_error_document(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    path = write_layout(root, "version = 1\nbogus = 1\n")
    result = invoke("--sysroot", root, "config", "validate", "--json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["error"]["message"].startswith(f"{path}:2: unknown key")


# -- import-daxctl -------------------------------------------------------------


def _daxctl(root: Path, files: dict[str, str]) -> Path:
    d = root / "etc" / "daxctl.conf.d"
    d.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(text)
    return d


def _import(invoke: Invoke, root: Path, *args: str) -> tuple[dict, str]:
    import tomllib

    result = invoke("--sysroot", root, "config", "import-daxctl", *args)
    assert result.exit_code == 0, result.stderr
    return tomllib.loads(result.stdout), result.stderr


def test_import_daxctl_basic_and_booleans_by_first_char(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    _daxctl(root, {"a.conf": f"[reconfigure-device fast]\nnvdimm.uuid = {NS11_DAX_UUID.upper()}\n"
                             "mode = system-ram\nonline = yes please\nmovable = Nope\n"})
    data, _ = _import(invoke, root)
    (entry,) = data["device"]
    assert entry == {"name": "fast", "match": {"dax_uuid": NS11_DAX_UUID}, "mode": "system-ram",
                     "online": "all", "zone": "normal"}


def test_import_daxctl_concatenates_duplicate_keys_and_says_ambiguous(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    _daxctl(root, {"a.conf": f"[reconfigure-device x]\nnvdimm.uuid = {NS11_DAX_UUID}\nmode = system-ram\n",
                   "b.conf": "[reconfigure-device x]\nmode = devdax\n"})
    data, err = _import(invoke, root)
    (entry,) = data["device"]
    assert entry["mode"] == "unmanaged"
    # reverse alphabetical: b.conf first, so daxctl sees "devdax system-ram"
    assert "mode = 'devdax system-ram'" in err and "ambiguous" in err


def test_import_daxctl_only_regular_conf_files(tree, invoke: Invoke, tmp_path: Path) -> None:
    root = tree("optane-2s")
    elsewhere = tmp_path / "linked.conf"
    elsewhere.write_text(f"[reconfigure-device linked]\nnvdimm.uuid = {NS01_DAX_UUID}\n")
    d = _daxctl(root, {"notes.txt": f"[reconfigure-device txt]\nnvdimm.uuid = {NS01_DAX_UUID}\n",
                       "real.conf": f"[reconfigure-device real]\nnvdimm.uuid = {NS11_DAX_UUID}\nmode = devdax\n"})
    (d / "linked.conf").symlink_to(elsewhere)
    data, _ = _import(invoke, root)
    assert [e["name"] for e in data["device"]] == ["real"]
    assert data["device"][0]["mode"] == "devdax"


def test_import_daxctl_section_without_uuid_and_a_dir_argument(tree, invoke: Invoke, tmp_path: Path) -> None:
    root = tree("optane-2s")
    d = tmp_path / "conf"
    d.mkdir()
    (d / "x.conf").write_text("# comment\n[reconfigure-device nothing]\nmode = devdax\n")
    data, err = _import(invoke, root, str(d))
    assert "device" not in data
    assert "no nvdimm.uuid" in err


def test_imported_layout_applies(tree, invoke: Invoke, tmp_path: Path) -> None:
    root = tree("optane-2s")
    _daxctl(root, {"a.conf": f"[reconfigure-device fast]\nnvdimm.uuid = {NS11_DAX_UUID}\nmode = system-ram\n"})
    out = tmp_path / "imported.toml"
    assert invoke("--sysroot", root, "config", "import-daxctl", "-o", out).exit_code == 0
    result = invoke("--sysroot", root, "apply", "-c", out, "--yes")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert invoke("--sysroot", root, "apply", "-c", out).exit_code == 3
