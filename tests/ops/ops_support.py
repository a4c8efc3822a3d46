"""Helpers shared by the ops tests (importable: pytest puts this dir on sys.path)."""

from __future__ import annotations


def tiny_scenario_text(size: str = "768M") -> str:
    """qemu-nvdimm with a smaller NVDIMM: a few blocks, for fast property tests."""
    from importlib import resources

    text = (resources.files("pmemctl.sim") / "scenarios" / "qemu-nvdimm.toml").read_text()
    return text.replace('size = "3968M"', f'size = "{size}"')
