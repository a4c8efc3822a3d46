"""Plan steps (the Action contract in base.py; one module per kernel subsystem)."""
