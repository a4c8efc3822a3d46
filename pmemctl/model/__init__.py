"""Room 2: immutable snapshot of kernel objects (no writes)."""
