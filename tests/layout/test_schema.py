"""The layout schema: one source in code, the shipped JSON Schema generated from it."""

from __future__ import annotations

import json
from pathlib import Path

import pmemctl
from pmemctl.ops.layout.schema import TABLES, json_schema, json_schema_text

SHIPPED = Path(pmemctl.__file__).parent / "schema" / "layout-v1.schema.json"


def test_shipped_json_schema_is_current() -> None:
    assert SHIPPED.read_text() == json_schema_text(), (
        "pmemctl/schema/layout-v1.schema.json is stale: run "
        "'python3 -m pmemctl.ops.layout.schema > pmemctl/schema/layout-v1.schema.json'")


def test_json_schema_lists_every_key_of_every_table() -> None:
    schema = json_schema()
    assert set(schema["properties"]) == {k.name for k in TABLES["layout"].keys}
    for name, table in TABLES.items():
        if name == "layout":
            continue
        node = schema["$defs"][name]
        assert set(node["properties"]) == {k.name for k in table.keys}
        assert node["additionalProperties"] is False
    assert schema["$defs"]["match"]["maxProperties"] == 1


def test_shipped_schema_is_package_data() -> None:
    text = Path(__file__).resolve().parents[2].joinpath("pyproject.toml").read_text()
    assert '"schema/*.json"' in text
    json.loads(SHIPPED.read_text())


def test_man_page_example_is_a_valid_layout() -> None:
    from pmemctl.cli.render.layout import EXAMPLE, layout_man_page
    from pmemctl.ops.layout.load import parse_file

    parse_file("example.toml", EXAMPLE.encode())
    page = layout_man_page()
    for table in TABLES.values():
        for key in table.keys:
            assert f"\\fB{key.name}\\fR" in page.replace("\\-", "-").replace("\\e", "\\")


def test_readme_layout_is_valid_and_documents_every_key() -> None:
    from pmemctl.ops.layout.load import parse_file

    readme = Path(__file__).resolve().parents[2].joinpath("README.md").read_text()
    section = readme[readme.index("## Provisioning at boot"):readme.index("## Safety model")]
    example = section[section.index("```toml") + len("```toml"):]
    example = example[: example.index("```")]
    _check, data = parse_file("README.md", example.encode())
    assert {"policy", "device", "region"} <= set(data)
    for table in TABLES.values():
        for key in table.keys:
            if key.name not in ("memmap_on_memory",):
                assert key.name in example, f"README's complete layout does not show {key.name}"
    assert "### Installing the boot units" in section
