"""Signed badge tokens: what the QR code on a badge carries.

A token proves "the forum issued badge <badge_id>, print number <serial>" without carrying
any personal data, so a lost badge leaks nothing and scanners can verify offline with
only the public key.

Wire format (all big-endian)::

    body      = 0x01 (version) | badge_id (16 bytes, UUID) | serial (2 bytes, 1..65535)
    token     = "GP1" + BASE32(body + Ed25519 signature over body), upper case, no padding

That is 19 + 64 = 83 bytes -> 133 base32 characters -> 136 characters with the prefix.

Version 2 adds the edition the badge belongs to (so a badge cannot cross editions)::

    body      = 0x02 (version) | badge_id (16) | serial (2) | edition id (2 bytes, 1..65535)

21 + 64 = 85 bytes -> 136 base32 characters -> 139 with the prefix (still QR version 6-M).
Version 1 tokens, printed before editions existed, verify as the first edition's.
Every character is in the QR *alphanumeric* set (0-9, A-Z), so the QR encoder uses
alphanumeric mode (5.5 bits/char) and the code fits QR version 6 at error correction M
(capacity 154 alphanumeric characters), i.e. 41x41 modules.

Verification is tolerant of what USB keyboard-wedge scanners do (lower-casing, trailing
newline, surrounding spaces) but strict about everything else: the decoded bytes are
re-encoded and must equal the input, so a changed character can never decode to the same
bytes (base32 leaves one unused trailing bit that would otherwise be malleable).

Revocation: the serial is bumped whenever a badge is reprinted (lost, name corrected...).
The verifier asks the application for the badge's current serial; an older serial is
``revoked`` and an unknown badge id is ``unknown_badge``.

Key rotation:

1. Generate a new key (``generate_private_key`` / a new ``BADGE_SIGNING_KEY``) and deploy
   it as the signing key; every badge printed from then on is signed with it.
2. Keep the previous public keys (``public_key_b64`` of each) in the list handed to
   ``verify`` and to the scanners. ``verify`` tries every key, newest first.
3. Drop an old public key only once every badge signed with it has been reprinted (or the
   event is over). Removing it makes those badges fail with ``bad_signature``.
A compromised key is handled the same way, except that its public key is dropped at once
and all of its badges are reprinted.
"""

from __future__ import annotations

import base64
import binascii
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = [
    "PREFIX",
    "TOKEN_LENGTH",
    "BadgeToken",
    "BadgeTokenError",
    "generate_private_key",
    "issue",
    "load_or_create_private_key",
    "public_key_b64",
    "verify",
]

PREFIX = "GP1"
VERSION = 0x01
VERSION_EDITION = 0x02
_BODY_LEN = 1 + 16 + 2
_SIG_LEN = 64
_RAW_LEN = _BODY_LEN + _SIG_LEN
#: Length of a token without edition (version 1, 136).
TOKEN_LENGTH = len(PREFIX) + (_RAW_LEN * 8 + 4) // 5
_RAW_LEN_EDITION = _RAW_LEN + 2
#: Length of a token that carries its edition (version 2, 139).
TOKEN_LENGTH_EDITION = len(PREFIX) + (_RAW_LEN_EDITION * 8 + 4) // 5
MAX_SERIAL = 0xFFFF


class BadgeTokenError(Exception):
    """A token failed verification; ``reason`` is a stable machine-readable code.

    Codes: ``malformed`` (not a token of ours at all), ``bad_signature`` (well-formed but
    not signed by any trusted key, i.e. forged or altered), ``unknown_badge`` (signed, but
    the badge id is not in the database), ``revoked`` (signed, but superseded by a reprint).
    ``other_edition``: signed, but for another edition of the forum.
    """

    REASONS = ("malformed", "bad_signature", "unknown_badge", "revoked", "other_edition")

    def __init__(self, reason: str, message: str | None = None) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown BadgeTokenError reason {reason!r}")
        super().__init__(message or reason)
        self.reason = reason


@dataclass(frozen=True)
class BadgeToken:
    """The verified content of a token."""

    badge_id: uuid.UUID
    serial: int
    edition: int | None = None  # None: a version 1 token (printed before editions)


def generate_private_key() -> Ed25519PrivateKey:
    """Return a fresh random Ed25519 signing key."""
    return Ed25519PrivateKey.generate()


def _key_from_env(value: str) -> Ed25519PrivateKey:
    value = value.strip()
    if value.startswith("-----BEGIN"):
        # env files and container UIs often carry the PEM's newlines as literal "\n"
        pem = value.replace("\\n", "\n").encode("ascii")
        key = serialization.load_pem_private_key(pem, password=None)
    else:
        value = "".join(value.split()).rstrip("=")
        try:
            raw = base64.b64decode(
                value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4),
                validate=True,
            )
        except binascii.Error as exc:
            raise ValueError("BADGE_SIGNING_KEY is neither PEM nor base64") from exc
        if len(raw) != 32:
            raise ValueError(
                f"BADGE_SIGNING_KEY must be base64 of 32 raw bytes, got {len(raw)} bytes"
            )
        return Ed25519PrivateKey.from_private_bytes(raw)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("BADGE_SIGNING_KEY PEM is not an Ed25519 private key")
    return key


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _read_pem(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def load_or_create_private_key(
    path: str | os.PathLike[str], env_value: str | None = None
) -> Ed25519PrivateKey:
    """Return the signing key: from ``env_value``, else the PEM file, else a new one.

    ``env_value`` (the ``BADGE_SIGNING_KEY`` variable: base64 of the 32 raw private bytes,
    or a PEM document) wins so production can inject the key from a secret store. Without
    it the key lives in a PEM file; on first run a key is generated and written with 0600
    permissions. Creation uses O_EXCL so two workers starting together end up with the
    same key instead of overwriting each other's.
    """
    if env_value:
        return _key_from_env(env_value)
    p = Path(path)
    if p.exists():
        return _read_pem(p)
    p.parent.mkdir(parents=True, exist_ok=True)
    key = generate_private_key()
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_pem(p)
    with os.fdopen(fd, "wb") as fh:
        fh.write(_pem(key))
    os.chmod(p, 0o600)  # in case the umask or filesystem widened the mode
    return key


def _public(key: Ed25519PrivateKey | Ed25519PublicKey) -> Ed25519PublicKey:
    return key.public_key() if isinstance(key, Ed25519PrivateKey) else key


def public_key_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Raw 32-byte public key, base64url without padding (WebCrypto / tweetnacl input)."""
    raw = _public(key).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b32encode(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def issue(private_key: Ed25519PrivateKey, badge_id: uuid.UUID, serial: int,
          edition: int | None = None) -> str:
    """Return the token for ``badge_id`` at print number ``serial`` (1..65535), carrying
    ``edition`` (1..65535) when given."""
    if not isinstance(badge_id, uuid.UUID):
        raise TypeError("badge_id must be a uuid.UUID")
    if not isinstance(serial, int) or isinstance(serial, bool) or not 1 <= serial <= MAX_SERIAL:
        raise ValueError(f"serial must be an int in 1..{MAX_SERIAL}, got {serial!r}")
    body = bytes([VERSION]) + badge_id.bytes + serial.to_bytes(2, "big")
    if edition is not None:
        if not isinstance(edition, int) or not 1 <= edition <= MAX_SERIAL:
            raise ValueError(f"edition must be an int in 1..{MAX_SERIAL}, got {edition!r}")
        body = bytes([VERSION_EDITION]) + body[1:] + edition.to_bytes(2, "big")
    return PREFIX + _b32encode(body + private_key.sign(body))


def _decode(code: str) -> tuple[bytes, bytes]:
    if not isinstance(code, str):
        raise BadgeTokenError("malformed", "token is not a string")
    text = code.strip().upper()
    if len(text) not in (TOKEN_LENGTH, TOKEN_LENGTH_EDITION) or not text.startswith(PREFIX):
        raise BadgeTokenError("malformed", "wrong length or prefix")
    b32 = text[len(PREFIX) :]
    try:
        raw = base64.b32decode(b32 + "=" * (-len(b32) % 8))
    except (binascii.Error, ValueError) as exc:
        raise BadgeTokenError("malformed", "not base32") from exc
    if len(raw) not in (_RAW_LEN, _RAW_LEN_EDITION) or _b32encode(raw) != b32:
        # Non-canonical encoding (e.g. the unused trailing bit set): reject, so that no
        # two different strings are accepted for the same badge.
        raise BadgeTokenError("malformed", "non-canonical encoding")
    body_len = len(raw) - _SIG_LEN
    body, sig = raw[:body_len], raw[body_len:]
    if body[0] != {_RAW_LEN: VERSION, _RAW_LEN_EDITION: VERSION_EDITION}[len(raw)]:
        raise BadgeTokenError("malformed", f"unsupported token version {body[0]}")
    return body, sig


def verify(
    code: str,
    public_keys: Sequence[Ed25519PublicKey],
    current_serial: Callable[[uuid.UUID], int | None] | None = None,
    *,
    edition: int | None = None,
    legacy_edition: int | None = None,
) -> BadgeToken:
    """Check a scanned token and return its :class:`BadgeToken`, or raise :class:`BadgeTokenError`.

    ``public_keys``: every key still trusted (current first, then keys retired by a
    rotation). ``current_serial(badge_id)`` returns the badge's latest serial, or ``None``
    for an unknown badge; omit it to check the signature only (offline scanners).
    ``edition``: the edition being checked in; a badge of another one is ``other_edition``
    (a version 1 token counts as ``legacy_edition``'s).
    """
    body, sig = _decode(code)
    for key in public_keys:
        try:
            _public(key).verify(sig, body)
        except InvalidSignature:
            continue
        break
    else:
        raise BadgeTokenError("bad_signature", "not signed by a trusted key")
    badge_id = uuid.UUID(bytes=body[1:17])
    serial = int.from_bytes(body[17:19], "big")
    if serial < 1:
        raise BadgeTokenError("malformed", "serial out of range")
    token_edition = int.from_bytes(body[19:21], "big") if len(body) > _BODY_LEN else None
    if edition is not None:
        belongs_to = token_edition if token_edition is not None else legacy_edition
        if belongs_to is not None and belongs_to != edition:
            raise BadgeTokenError("other_edition", f"badge of edition {belongs_to}")
    if current_serial is not None:
        current = current_serial(badge_id)
        if current is None:
            raise BadgeTokenError("unknown_badge", f"badge {badge_id} is not registered")
        if serial < current:
            raise BadgeTokenError("revoked", f"serial {serial} superseded by {current}")
        if serial > current:
            # Signed by us but newer than the database knows: treat like an unknown print
            # rather than silently accepting (e.g. a restored-from-backup database).
            raise BadgeTokenError("unknown_badge", f"serial {serial} was never issued")
    return BadgeToken(badge_id=badge_id, serial=serial, edition=token_edition)
