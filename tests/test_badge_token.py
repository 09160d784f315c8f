"""Tests for registration.badge_token: signed, tamper-evident, QR-friendly badge tokens."""

from __future__ import annotations

import base64
import os
import stat
import string
import uuid

import pytest
import qrcode
from qrcode.util import MODE_ALPHA_NUM, QRData

from registration import badge_token
from registration.badge_token import BadgeToken, BadgeTokenError, issue, verify

QR_ALNUM = set(string.digits + string.ascii_uppercase + " $%*+-./:")
BADGE = uuid.UUID("5f0c1d2e-3b4a-4c5d-8e6f-708192a3b4c5")


@pytest.fixture(scope="module")
def key():
    return badge_token.generate_private_key()


@pytest.fixture(scope="module")
def token(key):
    return issue(key, BADGE, 3)


def test_round_trip(key, token):
    t = verify(token, [key.public_key()])
    assert t == BadgeToken(badge_id=BADGE, serial=3)


def test_round_trip_with_serial_lookup(key, token):
    assert verify(token, [key.public_key()], lambda b: 3 if b == BADGE else None).serial == 3


def test_length_and_charset(token):
    assert len(token) == badge_token.TOKEN_LENGTH == 136
    assert token.startswith("GP1")
    assert set(token) <= QR_ALNUM


def test_no_personal_data_just_id_and_serial(key, token):
    raw = base64.b32decode(token[3:] + "=" * (-len(token[3:]) % 8))
    assert raw[0] == 1 and raw[1:17] == BADGE.bytes and raw[17:19] == b"\x00\x03"
    assert len(raw) == 19 + 64


def test_scanner_noise_tolerated(key, token):
    pub = [key.public_key()]
    assert verify(f"  {token.lower()}\r\n", pub).badge_id == BADGE
    assert verify("\t" + token + " ", pub).serial == 3


def test_every_position_tampered_fails(key, token):
    pub = [key.public_key()]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    for i, ch in enumerate(token):
        for repl in {alphabet[(alphabet.find(ch) + 1) % 32], "Q" if ch != "Q" else "R", "1"}:
            if repl == ch:
                continue
            bad = token[:i] + repl + token[i + 1 :]
            with pytest.raises(BadgeTokenError) as exc:
                verify(bad, pub)
            assert exc.value.reason in ("bad_signature", "malformed"), (i, repl)


def test_last_character_padding_bit_not_malleable(key, token):
    # 83 bytes = 664 bits -> 133 chars carry 665 bits; flipping the spare bit must fail.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    last = alphabet.index(token[-1])
    bad = token[:-1] + alphabet[last ^ 1]
    with pytest.raises(BadgeTokenError) as exc:
        verify(bad, [key.public_key()])
    assert exc.value.reason == "malformed"


def test_wrong_key(token):
    other = badge_token.generate_private_key()
    with pytest.raises(BadgeTokenError) as exc:
        verify(token, [other.public_key()])
    assert exc.value.reason == "bad_signature"


def test_rotation_old_key_still_verifies(key, token):
    new = badge_token.generate_private_key()
    fresh = issue(new, BADGE, 4)
    keys = [new.public_key(), key.public_key()]
    assert verify(token, keys).serial == 3
    assert verify(fresh, keys).serial == 4
    with pytest.raises(BadgeTokenError) as exc:
        verify(token, [new.public_key()])
    assert exc.value.reason == "bad_signature"


def test_revoked_and_unknown(key, token):
    pub = [key.public_key()]
    with pytest.raises(BadgeTokenError) as exc:
        verify(token, pub, lambda b: 4)
    assert exc.value.reason == "revoked"
    with pytest.raises(BadgeTokenError) as exc:
        verify(token, pub, lambda b: None)
    assert exc.value.reason == "unknown_badge"


@pytest.mark.parametrize(
    "garbage",
    ["", "   ", "GP1", "hello", "GP1" + "A" * 133, "XX1" + "A" * 133, "GP1" + "8" * 133,
     "GP1" + "A" * 132, "GP1" + "A" * 134, "https://example.org/?q=1", "é" * 136],
)
def test_garbage_is_malformed(key, garbage):
    with pytest.raises(BadgeTokenError) as exc:
        verify(garbage, [key.public_key()])
    assert exc.value.reason == "malformed"


def test_non_string_is_malformed(key):
    with pytest.raises(BadgeTokenError) as exc:
        verify(b"GP1AAAA", [key.public_key()])  # type: ignore[arg-type]
    assert exc.value.reason == "malformed"


@pytest.mark.parametrize("serial", [0, -1, 65536, True, 1.0])
def test_issue_rejects_bad_serial(key, serial):
    with pytest.raises(ValueError, match=r"serial must be an int in 1\.\.65535"):
        issue(key, BADGE, serial)


def test_serial_bounds_ok(key):
    for s in (1, 65535):
        assert verify(issue(key, BADGE, s), [key.public_key()]).serial == s


def test_qr_alphanumeric_mode_version_6_ecc_m(token):
    assert QRData(token).mode == MODE_ALPHA_NUM
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(token)
    qr.make(fit=True)
    assert qr.data_list[0].mode == MODE_ALPHA_NUM
    assert qr.version <= 6


def test_public_key_b64_raw_32_bytes(key):
    s = badge_token.public_key_b64(key)
    assert "=" not in s and "+" not in s and "/" not in s
    assert len(base64.urlsafe_b64decode(s + "=")) == 32
    assert badge_token.public_key_b64(key.public_key()) == s


def test_load_or_create_writes_0600_and_reloads(tmp_path):
    p = tmp_path / "keys" / "badge.pem"
    k1 = badge_token.load_or_create_private_key(p)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    k2 = badge_token.load_or_create_private_key(p)
    assert badge_token.public_key_b64(k1) == badge_token.public_key_b64(k2)


def test_env_value_wins(tmp_path, key):
    from cryptography.hazmat.primitives import serialization

    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    p = tmp_path / "unused.pem"
    k = badge_token.load_or_create_private_key(p, base64.b64encode(raw).decode())
    assert badge_token.public_key_b64(k) == badge_token.public_key_b64(key)
    assert not p.exists()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    assert badge_token.public_key_b64(badge_token.load_or_create_private_key(p, pem)) == (
        badge_token.public_key_b64(key)
    )
    one_line = pem.replace("\n", "\\n")  # as pasted into an env file
    assert badge_token.public_key_b64(badge_token.load_or_create_private_key(p, one_line)) == (
        badge_token.public_key_b64(key)
    )
    urlsafe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert badge_token.public_key_b64(badge_token.load_or_create_private_key(p, urlsafe)) == (
        badge_token.public_key_b64(key)
    )
    with pytest.raises(ValueError, match="32 raw bytes, got 5 bytes"):
        badge_token.load_or_create_private_key(p, base64.b64encode(b"short").decode())
    with pytest.raises(ValueError, match="neither PEM nor base64"):
        badge_token.load_or_create_private_key(p, "not base64 at all!")
