"""Whom an HTTPS call trusts: one `http.ca_bundle` for every call, a `ca_bundle` per target.

A private CA is trusted by naming its PEM file once (`http.ca_bundle`); a target behind another
CA names its own (`platforms[].ca_bundle`, `metrics_sources[].ca_bundle`, ...). The bundle adds
to the usual roots, it never replaces them. `verify_tls: false` stays possible for a target, and
every result read that way says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationInfo

from opsbook.config.fields import relative_to_config


@dataclass(frozen=True)
class Trust:
    """How one call verifies the server: `verify` off means no check at all (flagged on results)."""

    verify: bool = True
    ca_bundle: Path | None = None

    @property
    def label(self) -> str:
        """What a result says about the trust it was read with."""
        if not self.verify:
            return "TLS not verified (verify_tls: false)"
        return f"trusting {self.ca_bundle.name}" if self.ca_bundle else "system trust"


def ca_bundle_file(value: Path | None, info: ValidationInfo) -> Path | None:
    """A bundle path, relative to the config file like every path in it.

    Read when a call is made, not when the config loads (as every file the config names): a
    bundle that is missing then is an `error` on each target that needs it, naming the file,
    and never costs other targets their results.
    """
    return relative_to_config(value, info)
