"""Rendering of ``pmemctl apply`` and ``pmemctl config``: the per-item table,
findings, the plan (as reconfigure shows it) and the outcome; and the
``apply`` / ``config`` JSON documents (see OBJECTS in render/json.py)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pmemctl.cli.render.doc import Block, Column, Document, Lines, table
from pmemctl.cli.render.json import _obj, envelope

if TYPE_CHECKING:  # pragma: no cover
    from pmemctl.ops.layout import ApplyResult, ItemState, Layout


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_short(v)}" for k, v in value.items())
    return json.dumps(value) if not isinstance(value, str) else value


def item_json(item: "ItemState") -> dict[str, Any]:
    return _obj("apply_item", name=item.name, selector=item.selector, matched=list(item.matched),
                desired=dict(item.desired), actual=dict(item.actual), status=item.status,
                difference=item.difference or None)


def apply_json(command: str, sysroot: str, result: "ApplyResult") -> dict[str, Any]:
    from pmemctl.cli.render.change import outcome_json, plan_json

    return envelope("apply", command, sysroot, config_files=list(result.layout.files),
                    check=result.check, dry_run=result.dry_run,
                    items=[item_json(i) for i in result.items],
                    plan=plan_json(result.plan) if result.plan is not None else None,
                    outcome=outcome_json(result.outcome), warnings=list(result.warnings),
                    exit_code=int(result.exit_code))


def items_block(items: "list[ItemState]") -> Block:
    rows = [(i.name, i.status, ",".join(i.matched) or "-", i.selector) for i in items]
    return table((Column("ITEM"), Column("STATUS"), Column("MATCHED"), Column("SELECTOR")), rows)


def apply_document(result: "ApplyResult", sysroot: str) -> Document:
    from pmemctl.cli.render.change import outcome_blocks, plan_blocks

    blocks: list[Block] = []
    if result.items:
        blocks.append(items_block(result.items))
    diffs = [f"{i.name}: {i.difference}" for i in result.items if i.difference]
    if diffs:
        blocks.append(Lines(tuple(diffs), title="Differences" if result.check else "Findings"))
    if result.warnings:
        blocks.append(Lines(tuple(result.warnings), title="Warnings"))
    if result.plan is not None and (result.dry_run or result.outcome is None):
        blocks.extend(plan_blocks(result.plan))
    if result.outcome is not None:
        blocks.extend(outcome_blocks(result.outcome, sysroot=sysroot))
    summary = {
        0: "the machine matches the layout" if result.check else "the layout was applied and verified",
        3: "the machine already matches the layout: nothing was written",
        11: "the machine differs from the layout",
    }.get(int(result.exit_code))
    if summary and not result.dry_run:
        blocks.append(Lines((summary,)))
    return Document.of(blocks)


def layout_json(command: str, sysroot: str, layout: "Layout", matched: dict[str, list[str]]) -> dict[str, Any]:
    return envelope("config", command, sysroot, config_files=list(layout.files), valid=True,
                    layout=layout.to_toml_data(), matched=matched, warnings=list(layout.warnings))
