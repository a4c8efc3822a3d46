"""Shipped scenario files (``*.toml``); see :mod:`pmemctl.sim.scenario`."""
