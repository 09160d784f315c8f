"""Encryption at rest for identity data (document numbers, dates of birth, watchlists).

Authenticated encryption with AES-256-GCM from `cryptography`; nothing hand-made but the
envelope. A stored value is text::

    "e1." + key id (8 hex characters) + "." + base64url(nonce (12 bytes) + ciphertext + tag)

The key id (the first 4 bytes of SHA-256 of the key) says which key wrote it, so after a
rotation values written with an old key still read while `flask --app wsgi privacy
rotate-key` re-encrypts them with the new one. The column name is bound into each value as
associated data: a value copied into another column does not decrypt.

Keys (32 random bytes, base64url):
- `DATA_ENCRYPTION_KEY`: the key that encrypts (required in production);
- `DATA_ENCRYPTION_OLD_KEYS`: comma-separated keys that only decrypt (after a rotation);
- in development and tests, without the variable, `instance/data_encryption_key` is created
  on first use (and `instance/data_encryption_old_keys`, one key per line, is read).

Exact matching without decrypting: `keyed_hash` is HMAC-SHA256 of the normalised value
under a key derived (HKDF) from each data key. `keyed_hashes` gives the hash under every
key, so a lookup still finds rows hashed before a rotation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "e1"
KEY_BYTES = 32
NONCE_BYTES = 12
KEY_FILE = "data_encryption_key"
OLD_KEYS_FILE = "data_encryption_old_keys"


class DataKeyError(ValueError):
    """A key that is missing or malformed, or a value no known key can read."""


def new_key() -> str:
    """A fresh key as the environment variable takes it."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode().rstrip("=")


def decode_key(text: str) -> bytes:
    text = text.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise DataKeyError("a data encryption key must be base64url text") from None
    if len(raw) != KEY_BYTES:
        raise DataKeyError(f"a data encryption key must be {KEY_BYTES} bytes "
                           f"(it has {len(raw)}); make one with `flask --app wsgi privacy "
                           "new-key`")
    return raw


def key_id(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:8]


@dataclass
class DataKeyring:
    """The key that encrypts, then the keys that only decrypt."""

    current: bytes
    old: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_id = {key_id(k): k for k in [*self.old, self.current]}
        self._hash_keys = [self._hash_key(k) for k in [self.current, *self.old]]

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    @staticmethod
    def _hash_key(raw: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                    info=b"forum-accreditation keyed hash v1").derive(raw)

    def encrypt(self, plaintext: str, purpose: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.current).encrypt(nonce, plaintext.encode(), purpose.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{PREFIX}.{self.current_id}.{body}"

    def decrypt(self, stored: str, purpose: str) -> str:
        try:
            prefix, kid, body = stored.split(".", 2)
        except ValueError:
            raise DataKeyError("not an encrypted value") from None
        key = self._by_id.get(kid)
        if prefix != PREFIX or key is None:
            raise DataKeyError(f"no key {kid!r} to read this value: list the key that wrote it "
                               "in DATA_ENCRYPTION_OLD_KEYS")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                       purpose.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError):
            raise DataKeyError("an encrypted value failed its integrity check") from None

    def is_current(self, stored: str) -> bool:
        """Whether the value was written with the current key (rotation skips it)."""
        return stored.split(".", 2)[1:2] == [self.current_id]

    def keyed_hash(self, normalised: str) -> str:
        return hmac.new(self._hash_keys[0], normalised.encode(), hashlib.sha256).hexdigest()

    def keyed_hashes(self, normalised: str) -> list[str]:
        """The hash under every key, current first (lookups across a rotation)."""
        return [hmac.new(k, normalised.encode(), hashlib.sha256).hexdigest()
                for k in self._hash_keys]


def _read_or_create_key_file(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = new_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def load_keyring(current: str | None, old: str | None, instance_dir: Path, *,
                 production: bool) -> DataKeyring:
    """The keyring from settings (see the module docstring)."""
    if current:
        current_text = current
        old_texts = [k for k in (old or "").split(",") if k.strip()]
    elif production:
        raise DataKeyError("DATA_ENCRYPTION_KEY is not set. In production the service refuses "
                           "to start without it; make one with `flask --app wsgi privacy "
                           "new-key` and keep it in the environment (not in the database).")
    else:
        current_text = _read_or_create_key_file(instance_dir / KEY_FILE)
        old_path = instance_dir / OLD_KEYS_FILE
        old_texts = [k for k in (old or "").split(",") if k.strip()]
        if old_path.exists():
            old_texts += [line for line in old_path.read_text().split() if line.strip()]
    return DataKeyring(decode_key(current_text), [decode_key(k) for k in old_texts])


def normalise_document_number(value: str) -> str:
    """What two writings of one document number share: letters and digits, upper case."""
    return "".join(ch for ch in value.upper() if ch.isalnum())


def app_keyring() -> DataKeyring:
    """The running app's keyring (loaded once per app from its config)."""
    from flask import current_app

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    ring = app.extensions.get("data_keyring")
    if ring is None:
        ring = app.extensions["data_keyring"] = load_keyring(
            app.config.get("DATA_ENCRYPTION_KEY"), app.config.get("DATA_ENCRYPTION_OLD_KEYS"),
            Path(app.config["INSTANCE_DIR"]), production=app.config.get("APP_ENV") == "production")
    return ring
