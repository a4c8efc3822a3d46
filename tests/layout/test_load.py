"""Bad layout files: one line ``FILE:LINE: problem``, exit 2, nothing changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from layout_support import Invoke, write_layout

from pmemctl.ops.layout.load import find_line
from pmemctl.sysfs.door import SysfsRoot

GOOD = """version = 1

[[device]]
name = "fast"
match = { namespace_uuid = "3277e9f8-2374-5c2f-8da6-e7fa1ae3becf" }
mode = "system-ram"
"""


def _tree_digest(root: Path) -> dict[str, tuple[int, bytes]]:
    out = {}
    for dirpath, _dirs, files in os.walk(root / "sys"):
        for f in files:
            p = Path(dirpath) / f
            if not p.is_symlink():
                out[str(p)] = (p.stat().st_mode, p.read_bytes())
    return out


def _error(invoke: Invoke, root: Path, *args: str) -> str:
    before = _tree_digest(root)
    result = invoke("--sysroot", root, "apply", "--yes", *args)
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert _tree_digest(root) == before  # nothing changed
    assert not (root / "var" / "lib" / "pmemctl").exists()
    return lines[0]


BAD_CASES = [
    ("unknown-key", GOOD + 'colour = "blue"\n', 7, "unknown key 'device[0].colour'"),
    ("unknown-top-key", "version = 1\nextra = 3\n", 2, "unknown key 'extra'"),
    ("wrong-type", GOOD.replace('mode = "system-ram"', 'mode = "system-ram"\nexpect = "two"'), 7,
     "expect must be an integer"),
    ("bad-enum", GOOD.replace("system-ram", "ram"), 6, "mode must be one of"),
    ("bad-online", GOOD + 'online = "lots"\n', 7, "online must be"),
    ("bad-uuid", GOOD.replace("3277e9f8-2374-5c2f-8da6-e7fa1ae3becf", "nope"), 5, "must be a uuid"),
    ("two-selectors", GOOD.replace('match = { namespace_uuid = "3277e9f8-2374-5c2f-8da6-e7fa1ae3becf" }',
                                   'match = { node = 1, device = "dax1.1" }'), 5, "names 2 things"),
    ("no-selector", GOOD.replace('match = { namespace_uuid = "3277e9f8-2374-5c2f-8da6-e7fa1ae3becf" }',
                                 "match = {}"), 5, "names nothing"),
    ("zone-and-normal", GOOD + 'zone = "movable"\nnormal = "4G"\n', 8, "exclude each other"),
    ("missing-version", GOOD.replace("version = 1\n", ""), 1, "missing 'version = 1'"),
    ("version-2", GOOD.replace("version = 1", "version = 2"), 1, "version must be 1"),
    ("missing-name", GOOD.replace('name = "fast"\n', ""), 3, "missing required key 'name'"),
    ("bad-toml", GOOD + "mode = \n", 7, "not valid TOML"),
    ("duplicate-toml-key", GOOD + 'mode = "devdax"\n', 7, "not valid TOML"),
    ("duplicate-name", GOOD + GOOD.replace("version = 1\n", "").replace("3277e9f8", "3277e9f9"), 9,
     "entry name 'fast' is used already at"),
    ("same-selector", GOOD + GOOD.replace("version = 1\n", "").replace('"fast"', '"again"'), 9,
     "selects the same device"),
    ("online-on-devdax", GOOD.replace("system-ram", "devdax") + 'online = "all"\n', 7,
     "applies to mode = \"system-ram\" only"),
    ("policy-type", "version = 1\n\n[policy]\ndemotion_enabled = \"yes\"\n", 4, "must be true or false"),
]


@pytest.mark.parametrize(("case", "text", "line", "problem"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_file_is_one_line_with_file_and_line(tree, invoke: Invoke, case: str, text: str, line: int,
                                                 problem: str) -> None:
    root = tree("optane-2s")
    path = write_layout(root, text)
    message = _error(invoke, root)
    assert message.startswith(f"pmemctl: {path}:{line}: "), message
    assert problem in message


def test_non_utf8_names_the_line(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    path = write_layout(root, GOOD)
    path.write_bytes(GOOD.encode() + b'# caf\xe9\n')
    message = _error(invoke, root)
    assert message.startswith(f"pmemctl: {path}:7: not UTF-8"), message


def test_huge_file_refused(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    path = write_layout(root, GOOD + "#" * (2 << 20) + "\n")
    message = _error(invoke, root)
    assert message.startswith(f"pmemctl: {path}:1: is larger than"), message


def test_symlink_loop_in_conf_d(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    write_layout(root, GOOD)
    conf_d = root / "etc" / "pmemctl" / "conf.d"
    conf_d.mkdir()
    (conf_d / "10-a.toml").symlink_to("20-b.toml")
    (conf_d / "20-b.toml").symlink_to("10-a.toml")
    message = _error(invoke, root)
    assert "symlink loop" in message and "conf.d/10-a.toml:1:" in message, message


def test_link_out_of_the_sysroot_refused(tree, invoke: Invoke, tmp_path: Path) -> None:
    root = tree("optane-2s")
    outside = tmp_path / "outside.toml"
    outside.write_text(GOOD)
    (root / "etc" / "pmemctl").mkdir(parents=True)
    (root / "etc" / "pmemctl" / "pmemctl.toml").symlink_to(outside)
    message = _error(invoke, root)
    assert "leading out of the sysroot" in message


def test_same_device_in_two_files(tree, invoke: Invoke) -> None:
    """namespace uuid in one file, the same namespace by name in conf.d: found when matched."""
    root = tree("optane-2s")
    write_layout(root, GOOD)
    other = write_layout(root, 'version = 1\n\n[[device]]\nname = "again"\nmatch = { namespace = "namespace1.1" }\n'
                         'mode = "devdax"\n', "conf.d/50-other.toml")
    message = _error(invoke, root)
    assert message.startswith(f"pmemctl: {other}:4: 'again'"), message
    assert "selects dax1.1, which 'fast' at" in message


def test_config_option_is_repeatable_and_replaces_defaults(tree, invoke: Invoke, tmp_path: Path) -> None:
    root = tree("optane-2s")
    write_layout(root, "this is not toml")
    a = tmp_path / "a.toml"
    a.write_text(GOOD)
    b = tmp_path / "b.toml"
    b.write_text('version = 1\n[policy]\nauto_online_blocks = "offline"\n')
    result = invoke("--sysroot", root, "config", "validate", "--config", a, "--config", b)
    assert result.exit_code == 0, result.stderr
    assert f"{a}: valid" in result.stdout and f"{b}: valid" in result.stdout
    assert "fast: matches dax1.1" in result.stdout


def test_conf_d_lexical_order_and_policy_override_warns(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    write_layout(root, 'version = 1\n[policy]\nauto_online_blocks = "online"\n')
    write_layout(root, 'version = 1\n[policy]\nauto_online_blocks = "offline"\n', "conf.d/20-b.toml")
    write_layout(root, 'version = 1\n[policy]\nauto_online_blocks = "online_movable"\n', "conf.d/10-a.toml")
    (root / "etc" / "pmemctl" / "conf.d" / "ignored.conf").write_text("not toml")
    result = invoke("--sysroot", root, "config", "show")
    assert result.exit_code == 0, result.stderr
    assert 'auto_online_blocks = "offline"' in result.stdout
    order = [line for line in result.stdout.splitlines() if line.startswith("# from")]
    assert [Path(o.split()[-1]).name for o in order] == ["pmemctl.toml", "10-a.toml", "20-b.toml"]
    result = invoke("--sysroot", root, "config", "validate", "--json")
    import json

    assert any("overrides" in w for w in json.loads(result.stdout)["warnings"])


def test_device_name_selector_warns(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    write_layout(root, 'version = 1\n[[device]]\nname = "x"\nmatch = { device = "dax1.1" }\nmode = "devdax"\n')
    result = invoke("--sysroot", root, "config", "validate")
    assert result.exit_code == 0
    assert "can change between boots" in result.stdout


def test_find_line_sections_and_inline_keys() -> None:
    text = ('version = 1\n\n[policy]\ndemotion_enabled = true # c\n\n[[device]]\nname = "a"\n'
            'match = { node = 1 }\n\n[[device]]\nname = "b"\nmatch = { range = { start = 1, size = 2 } }\n')
    assert find_line(text, ("version",)) == 1
    assert find_line(text, ("policy", "demotion_enabled")) == 4
    assert find_line(text, ("device", 0, "match", "node")) == 8
    assert find_line(text, ("device", 1, "name")) == 11
    assert find_line(text, ("device", 1, "match", "range", "size")) == 12
    assert find_line(text, ("device", 1, "nothing")) == 10  # the header


def test_no_layout_is_empty_and_said(tree, invoke: Invoke) -> None:
    root = tree("optane-2s")
    result = invoke("--sysroot", root, "apply")
    assert result.exit_code == 3
    assert "no layout file found" in result.stdout
    assert SysfsRoot(root).exists("/sys/devices")
