"""Encryption at rest (registration/data_crypto.py) and the edition switches for identity,
vetting and photos."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from registration.data_crypto import (
    DataKeyError,
    DataKeyring,
    decode_key,
    load_keyring,
    new_key,
    normalise_document_number,
)
from registration.extensions import db
from registration.models import Delegate, DelegateIdentity


def ring(*keys: str) -> DataKeyring:
    return DataKeyring(decode_key(keys[0]), [decode_key(k) for k in keys[1:]])


def test_round_trip_and_the_purpose_is_bound():
    keys = ring(new_key())
    sealed = keys.encrypt("P1234567", "identity.document_number")
    assert "P1234567" not in sealed and sealed.startswith("e1." + keys.current_id + ".")
    assert keys.decrypt(sealed, "identity.document_number") == "P1234567"
    # Two encryptions of one value differ (random nonce): equal numbers are not visible.
    assert keys.encrypt("P1234567", "identity.document_number") != sealed
    with pytest.raises(DataKeyError, match="integrity"):
        keys.decrypt(sealed, "identity.date_of_birth")  # copied into another column
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(DataKeyError, match="integrity"):
        keys.decrypt(tampered, "identity.document_number")


def test_old_keys_read_and_hashes_match_across_a_rotation():
    old, new = new_key(), new_key()
    before = ring(old)
    sealed = before.encrypt("1990-05-17", "identity.date_of_birth")
    old_hash = before.keyed_hash("P1234567")
    after = ring(new, old)
    assert after.decrypt(sealed, "identity.date_of_birth") == "1990-05-17"
    assert not after.is_current(sealed)
    assert after.is_current(after.encrypt("x", "p"))
    assert old_hash in after.keyed_hashes("P1234567")
    assert after.keyed_hash("P1234567") != old_hash
    with pytest.raises(DataKeyError, match="DATA_ENCRYPTION_OLD_KEYS"):
        ring(new).decrypt(sealed, "identity.date_of_birth")


def test_keys_from_settings(tmp_path):
    with pytest.raises(DataKeyError, match="DATA_ENCRYPTION_KEY is not set"):
        load_keyring(None, None, tmp_path, production=True)
    with pytest.raises(DataKeyError, match="32 bytes"):
        load_keyring("dG9vLXNob3J0", None, tmp_path, production=False)
    first = load_keyring(None, None, tmp_path, production=False)  # development: a key file
    assert (tmp_path / "data_encryption_key").stat().st_mode & 0o077 == 0
    assert load_keyring(None, None, tmp_path, production=False).current == first.current
    assert normalise_document_number(" p-123 456 ") == "P123456"


def test_identity_columns_hold_no_clear_text(app_ctx, make_delegate):
    delegate = make_delegate()
    delegate.identity = DelegateIdentity(nationality="FR", date_of_birth="1971-03-09",
                                         document_type="passport", document_number="19XK55021",
                                         document_country="FR", document_expiry="2031-01-01")
    db.session.commit()
    raw = db.session.execute(sa.text(
        "SELECT date_of_birth, document_number, document_expiry, document_number_hash "
        "FROM delegate_identity")).one()
    assert not any(clear in value for value in raw
                   for clear in ("1971-03-09", "19XK55021", "2031-01-01"))
    db.session.expire_all()
    assert delegate.identity is not None
    assert delegate.identity.document_number == "19XK55021"
    assert delegate.identity.is_complete


def test_settings_command_switches_identity_vetting_and_photos(runner):
    shown = runner.invoke(args=["editions", "settings"])
    assert "vetting        off" in shown.output and "no identity data" in shown.output
    changed = runner.invoke(args=["editions", "settings", "--identity", "government,expert",
                                  "--vetting", "on", "--photo-required", "on"])
    assert changed.exit_code == 0, changed.output
    assert "government   open             identity required" in changed.output
    assert "scholar      open             no identity data" in changed.output
    assert "vetting        on" in changed.output and "photo required on" in changed.output
    everyone = runner.invoke(args=["editions", "settings", "--identity", "all"])
    assert everyone.output.count("identity required") == 4
    bad = runner.invoke(args=["editions", "settings", "--identity", "royals"])
    assert bad.exit_code == 1 and "Unknown category royals for --identity" in bad.output
    assert runner.invoke(args=["editions", "settings", "--vetting", "maybe"]).exit_code == 1


def test_a_missing_data_key_is_a_plain_message_on_pages_and_in_the_cli(
        app, runner, client, login, make_delegate, tmp_path):
    delegate = make_delegate()
    with app.app_context():
        stored = db.session.get(Delegate, delegate.id)
        stored.identity = DelegateIdentity(
            nationality="FR", date_of_birth="1971-03-09", document_type="passport",
            document_number="19XK55021", document_country="FR", document_expiry="2031-01-01")
        db.session.commit()
    # The key that wrote it is left out (a rotation whose old key was not listed).
    app.extensions["data_keyring"] = DataKeyring(current=decode_key(new_key()))
    login("admin")
    page = client.get(f"/staff/delegates/{delegate.public_id}")
    assert page.status_code == 503
    assert "the key that wrote it is not configured" in page.get_data(as_text=True)
    export = runner.invoke(args=["vetting", "export", "-o", str(tmp_path / "v.csv")])
    assert export.exit_code == 1 and "Traceback" not in export.output
    assert export.output.startswith("Error: encrypted data cannot be read (no key ")
    assert "DATA_ENCRYPTION_OLD_KEYS" in export.output
