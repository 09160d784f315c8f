"""The app's badge-token service: key from instance/ or environment, revocation by serial."""

from __future__ import annotations

import pytest

from registration import badge_token
from registration.extensions import db
from registration.services import badge_signing


def test_token_verifies_and_reprint_revokes_it(app_ctx, make_delegate):
    delegate = make_delegate("expert")
    old = badge_signing.token_for(delegate)
    assert badge_signing.verify_code(old).badge_id == delegate.public_id
    delegate.badge_serial += 1
    db.session.commit()
    with pytest.raises(badge_token.BadgeTokenError) as err:
        badge_signing.verify_code(old)
    assert err.value.reason == "revoked"
    assert badge_signing.verify_code(badge_signing.token_for(delegate)).serial == 2


def test_key_is_created_once_in_the_instance_folder(make_app, tmp_path):
    app = make_app(INSTANCE_DIR=str(tmp_path))
    with app.app_context():
        first = badge_signing.public_keys_b64()
    assert (tmp_path / "badge_signing_key.pem").exists()
    again = make_app(INSTANCE_DIR=str(tmp_path))
    with again.app_context():
        assert badge_signing.public_keys_b64() == first


def test_previous_public_keys_still_verify_after_rotation(make_app, tmp_path, make_delegate):
    old_app = make_app(INSTANCE_DIR=str(tmp_path / "old"))
    with old_app.app_context():
        delegate = make_delegate("expert")
        token = badge_signing.token_for(delegate)
        old_public = badge_signing.public_keys_b64()[0]
    rotated = make_app(INSTANCE_DIR=str(tmp_path / "new"))
    with rotated.app_context():
        with pytest.raises(badge_token.BadgeTokenError) as err:
            badge_signing.verify_code(token)
        assert err.value.reason == "bad_signature"
    kept = make_app(INSTANCE_DIR=str(tmp_path / "new"), BADGE_PREVIOUS_PUBLIC_KEYS=old_public)
    with kept.app_context():
        assert badge_signing.verify_code(token).badge_id == delegate.public_id
        assert badge_signing.public_keys_b64()[1] == old_public
