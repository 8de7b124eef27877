"""The task library: one module per domain. Tasks import from `opsbook`, never from `flows`."""
