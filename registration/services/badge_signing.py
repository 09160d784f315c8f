"""Signing badge tokens in the app: which key signs, which keys verify, a delegate's token.
The token format itself (no Flask, no database) is registration/badge_token.py.

Keys: BADGE_SIGNING_KEY from the environment wins; otherwise `instance/badge_signing_key.pem`
is created on first use. BADGE_PREVIOUS_PUBLIC_KEYS (comma-separated base64url raw keys)
keeps badges signed before a rotation valid (see registration/badge_token.py for the procedure).
"""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import Flask
from sqlalchemy import select

from .. import badge_token
from ..extensions import db, real_app
from ..models import Delegate

_EXT = "badge_keys"


def _keys(app: Flask) -> tuple[Ed25519PrivateKey, list[Ed25519PublicKey]]:
    # Cached per app (not per process): tests build apps with different instance folders.
    cached = app.extensions.get(_EXT)
    if cached is None:
        private = badge_token.load_or_create_private_key(
            Path(app.config["INSTANCE_DIR"]) / "badge_signing_key.pem",
            app.config.get("BADGE_SIGNING_KEY"),
        )
        previous = [
            Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(k + "=" * (-len(k) % 4)))
            for k in (app.config.get("BADGE_PREVIOUS_PUBLIC_KEYS") or "").split(",")
            if k.strip()
        ]
        cached = app.extensions[_EXT] = (private, [private.public_key(), *previous])
    return cached


def signing_key() -> Ed25519PrivateKey:
    return _keys(real_app())[0]


def public_keys() -> list[Ed25519PublicKey]:
    """Current key first, then keys from before a rotation."""
    return _keys(real_app())[1]


def public_keys_b64() -> list[str]:
    return [badge_token.public_key_b64(k) for k in public_keys()]


def token_for(delegate: Delegate) -> str:
    """The QR payload for the delegate's current badge serial."""
    return badge_token.issue(signing_key(), delegate.public_id, delegate.badge_serial,
                             edition=delegate.edition_id)


def current_serial(badge_id: uuid.UUID) -> int | None:
    return db.session.scalar(select(Delegate.badge_serial).where(Delegate.public_id == badge_id))


def verify_code(code: str) -> badge_token.BadgeToken:
    """Verify a scanned code against the database's current serials and the current
    edition; raises BadgeTokenError."""
    from ..editions import current_edition_id, first_edition_id

    return badge_token.verify(code, public_keys(), current_serial,
                              edition=current_edition_id(), legacy_edition=first_edition_id())
