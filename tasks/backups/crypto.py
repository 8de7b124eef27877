"""Backup encryption with gpg: OpenPGP symmetric, AES-256, integrity-protected (MDC/AEAD).

gpg is the stock tool Barman uses for the same job, so an operator can decrypt any backup by
hand with `gpg --decrypt`. gpg runs with a throw-away home folder (nothing touches ~/.gnupg)
and reads the passphrase from a pipe, never from argv.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from opsbook.secrets import redact

# What an unencrypted dump starts with: custom format, gzip, plain SQL text.
_PLAINTEXT_MAGIC = {b"PGDMP": "a plaintext custom-format dump", b"\x1f\x8b": "a plaintext gzip file"}
_SQL_MARKERS = (b"--", b"SET ", b"CREATE ", b"\\connect", b"COPY ")
_SAMPLE_BYTES = 64


class CryptoError(RuntimeError):
    """Encryption or decryption failed (wrong passphrase, damaged file, gpg missing)."""


def plaintext_kind(path: Path) -> str | None:
    """What readable plaintext the file is, or None when it does not look like a dump."""
    with path.open("rb") as handle:
        head = handle.read(_SAMPLE_BYTES)
    for magic, kind in _PLAINTEXT_MAGIC.items():
        if head.startswith(magic):
            return kind
    if head.lstrip().startswith(_SQL_MARKERS):
        return "a plaintext SQL dump"
    return None


def _gpg(args: list[str], passphrase: str, timeout_s: float) -> None:
    gpg = shutil.which("gpg")
    if not gpg:
        raise CryptoError("gpg is not installed (Debian package gnupg)")
    with tempfile.TemporaryDirectory(prefix="opsbook-gnupg-") as home:
        done = subprocess.run(
            [
                gpg,
                "--homedir",
                home,
                "--batch",
                "--yes",
                "--quiet",
                "--no-tty",
                "--pinentry-mode",
                "loopback",
                "--passphrase-fd",
                "0",
                *args,
            ],
            input=passphrase.encode() + b"\n",
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    if done.returncode != 0:
        said = " ".join(done.stderr.decode("utf-8", "replace").split())[-300:]
        raise CryptoError(redact(f"gpg failed: {said or f'exit {done.returncode}'}"))


def encrypt_file(source: Path, target: Path, passphrase: str, timeout_s: float = 3600) -> None:
    _gpg(
        ["--symmetric", "--cipher-algo", "AES256", "--compress-algo", "none", "--output", str(target), str(source)],
        passphrase,
        timeout_s,
    )


def decrypt_file(source: Path, target: Path, passphrase: str, timeout_s: float = 3600) -> None:
    """Decrypt a whole file; gpg checks its integrity tag, so damage or a wrong key fails."""
    _gpg(["--decrypt", "--output", str(target), str(source)], passphrase, timeout_s)
