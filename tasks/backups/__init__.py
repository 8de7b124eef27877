"""Backup verification: completion, integrity, encryption, a real restore test, retention.

`verify.py` holds the daily task; each other module does one job and returns plain values or
CheckResults, so the CLI and the disaster-recovery flow reuse them.
"""
