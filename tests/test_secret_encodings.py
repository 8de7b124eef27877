"""Redaction covers the encoded forms a secret takes when a target or a protocol echoes it."""

from __future__ import annotations

import uuid

from opsbook.secrets import REDACTED, redact, register_credentials, register_secret
from tests.test_secret_canary import SPECIALS, encoded_forms


def test_every_encoded_form_of_a_secret_with_special_characters_is_redacted() -> None:
    secret = f"pw{SPECIALS}{uuid.uuid4().hex[:8]}"
    register_secret(secret)
    for form, encoded in encoded_forms(secret).items():
        if form == "AUTH PLAIN":
            continue  # needs the user name: next test
        cleaned = redact(f"echoed: {encoded} (end)")
        assert encoded not in cleaned and REDACTED in cleaned, form


def test_an_smtp_login_echoed_as_auth_plain_is_redacted() -> None:
    password = f"smtp{SPECIALS}{uuid.uuid4().hex[:8]}"
    register_credentials("ops", password)
    blob = encoded_forms(password)["AUTH PLAIN"]
    assert redact(f"535 5.7.8 Authentication failed for AUTH PLAIN {blob}") == (
        f"535 5.7.8 Authentication failed for AUTH PLAIN {REDACTED}"
    )
