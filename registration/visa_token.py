"""Signed visa-letter tokens: what the QR code on a visa invitation letter carries, as the
last part of the verification link `/verify/<token>`.

Its own token type, signed with the badge signing key under a domain separation (so one
key pair serves both, and no badge token can ever pass for a letter token or the other way
round)::

    body      = 0x01 (version) | letter id (16 bytes, UUID) | edition id (2 bytes)
    signed    = DOMAIN | body          (DOMAIN = b"forum-visa-letter/v1\\x00")
    token     = "VL1" + BASE32(body + Ed25519 signature over `signed`), no padding

A badge signature is over the bare badge body, whose first byte is the version (0x01 or
0x02); every visa signature is over a message that starts with "f" (0x66) and contains the
domain string, so a signature made for one can never verify as the other.

The token names the letter only: the verification page looks the letter up and says
whether it is valid or withdrawn. Key rotation is the badge key's (badge_token.py): keep
previous public keys listed in BADGE_PREVIOUS_PUBLIC_KEYS as long as letters signed with
them are in use.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PREFIX = "VL1"
VERSION = 0x01
DOMAIN = b"forum-visa-letter/v1\x00"
_BODY_LEN = 1 + 16 + 2
_RAW_LEN = _BODY_LEN + 64
TOKEN_LENGTH = len(PREFIX) + (_RAW_LEN * 8 + 4) // 5


class VisaTokenError(Exception):
    """`reason`: ``malformed`` (not a letter token) or ``bad_signature`` (forged/altered)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VisaToken:
    letter_id: uuid.UUID
    edition: int


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def issue(private_key: Ed25519PrivateKey, letter_id: uuid.UUID, edition: int) -> str:
    if not 1 <= edition <= 0xFFFF:
        raise ValueError(f"edition must be in 1..65535, got {edition!r}")
    body = bytes([VERSION]) + letter_id.bytes + edition.to_bytes(2, "big")
    return PREFIX + _b32(body + private_key.sign(DOMAIN + body))


def verify(token: str, public_keys: Sequence[Ed25519PublicKey]) -> VisaToken:
    """The letter a token names, or VisaTokenError. Strict: the token must be the exact
    canonical string (upper case), so no two strings verify for one letter."""
    if not isinstance(token, str) or len(token) != TOKEN_LENGTH \
            or not token.startswith(PREFIX):
        raise VisaTokenError("malformed")
    b32 = token[len(PREFIX):]
    try:
        raw = base64.b32decode(b32 + "=" * (-len(b32) % 8))
    except (binascii.Error, ValueError):
        raise VisaTokenError("malformed") from None
    if len(raw) != _RAW_LEN or _b32(raw) != b32 or raw[0] != VERSION:
        raise VisaTokenError("malformed")
    body, signature = raw[:_BODY_LEN], raw[_BODY_LEN:]
    for key in public_keys:
        try:
            key.verify(signature, DOMAIN + body)
        except InvalidSignature:
            continue
        return VisaToken(uuid.UUID(bytes=body[1:17]), int.from_bytes(body[17:19], "big"))
    raise VisaTokenError("bad_signature")
