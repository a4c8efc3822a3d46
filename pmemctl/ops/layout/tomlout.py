"""Write a layout as TOML (``config show``, ``config init``,
``config import-daxctl``): the few forms a layout uses -- scalars, inline
tables, ``[policy]`` and ``[[device]]``/``[[region]]`` arrays of tables."""

from __future__ import annotations

import json
import re
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name)


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:#x}" if value >= 1 << 32 else str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {value_text(v)}" for k, v in value.items()) + " }" if value else "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def toml_text(data: dict[str, Any], comments: dict[str, list[str]] | None = None) -> str:
    """``data``: top-level scalars, then tables, then arrays of tables.
    ``comments``: lines put above ``[[device]]`` entries by their name."""
    comments = comments or {}
    lines: list[str] = []
    for k, v in data.items():
        if not isinstance(v, (dict, list)):
            lines.append(f"{_key(k)} = {value_text(v)}")
    for k, v in data.items():
        if isinstance(v, dict):
            lines += ["", f"[{_key(k)}]"] + [f"{_key(a)} = {value_text(b)}" for a, b in v.items()]
    for k, v in data.items():
        if isinstance(v, list):
            for entry in v:
                lines.append("")
                lines += [f"# {c}" for c in comments.get(str(entry.get("name")), [])]
                lines.append(f"[[{_key(k)}]]")
                lines += [f"{_key(a)} = {value_text(b)}" for a, b in entry.items()]
    return "\n".join(lines) + "\n"
