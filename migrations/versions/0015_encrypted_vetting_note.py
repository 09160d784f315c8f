"""delegate.vetting_note encrypted at rest; vetting audit entries without the note's text

A vetting note (for more_info, the question sent to the delegate) may quote a document
number, so it is kept like the identity data: `delegate.vetting_note` becomes nullable and
holds the encrypted envelope (models/types.EncryptedText, purpose "delegate.vetting_note"),
NULL when there is no note. Existing values: '' → NULL; a note of an edition whose identity
data were already purged → NULL (the purge clears notes now); any other → encrypted with
the app's current data key. The "vetting" audit entries lose their "note" key (the audit
trail is neither encrypted nor purged) and keep `note_given` (true/false) instead.

Downgrade: the notes are decrypted back into clear text (the keys that wrote them must be
configured); the audit entries' note texts are gone for good and are not restored.

Revision ID: 0015_encrypted_vetting_note
Revises: 0014_outbox_recipient_index
Create Date: 2026-12-01 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_encrypted_vetting_note'
down_revision = '0014_outbox_recipient_index'
branch_labels = None
depends_on = None

PURPOSE = "delegate.vetting_note"  # models/delegate.py: EncryptedText("delegate.vetting_note")
BATCH = 500

delegate = sa.table("delegate", sa.column("id", sa.Integer()),
                    sa.column("edition_id", sa.Integer()),
                    sa.column("vetting_note", sa.Text()))
edition = sa.table("edition", sa.column("id", sa.Integer()),
                   sa.column("identity_purged_at", sa.DateTime(timezone=True)))
audit_entry = sa.table("audit_entry", sa.column("id", sa.Integer()),
                       sa.column("action", sa.String(32)),
                       sa.column("details", sa.JSON()))


def _keyring():
    # The one implementation of the envelope (AES-GCM, the key from the app's settings):
    # `flask db upgrade` runs inside the app. data_crypto holds no models, so importing it
    # here does not tie this migration to today's schema.
    from registration.data_crypto import app_keyring

    return app_keyring()


def _is_envelope(ring, value: str) -> bool:
    """Already encrypted (a second run of a half-done upgrade finds some that are)."""
    from registration.data_crypto import DataKeyError

    try:
        ring.decrypt(value, PURPOSE)
    except DataKeyError:
        return False
    return True


def _write(bind, changes: list[dict]) -> None:
    stmt = (sa.update(delegate).where(delegate.c.id == sa.bindparam("pk"))
            .values(vetting_note=sa.bindparam("note")))
    for start in range(0, len(changes), BATCH):
        bind.execute(stmt, changes[start:start + BATCH])


def encrypt_notes(bind, ring) -> int:
    """'' → NULL, clear text → envelope, notes of purged editions → NULL; returns how many
    notes were encrypted."""
    purged = sa.select(edition.c.id).where(edition.c.identity_purged_at.is_not(None))
    bind.execute(sa.update(delegate).where(
        (delegate.c.vetting_note == "") | delegate.c.edition_id.in_(purged))
        .values(vetting_note=None))
    rows = bind.execute(sa.select(delegate.c.id, delegate.c.vetting_note)
                        .where(delegate.c.vetting_note.is_not(None))).all()
    changes = [{"pk": pk, "note": ring.encrypt(note, PURPOSE)} for pk, note in rows
               if not _is_envelope(ring, note)]
    _write(bind, changes)
    return len(changes)


def drop_audit_notes(bind) -> int:
    """The "vetting" audit entries without the note's text; returns how many changed."""
    changed = 0
    stmt = (sa.update(audit_entry).where(audit_entry.c.id == sa.bindparam("pk"))
            .values(details=sa.bindparam("details", type_=sa.JSON())))
    rows = bind.execute(sa.select(audit_entry.c.id, audit_entry.c.details)
                        .where(audit_entry.c.action == "vetting")).all()
    batch: list[dict] = []
    for pk, details in rows:
        if not isinstance(details, dict) or "note" not in details:
            continue
        kept = {k: v for k, v in details.items() if k != "note"}
        kept["note_given"] = bool(details["note"])
        batch.append({"pk": pk, "details": kept})
        changed += 1
        if len(batch) >= BATCH:
            bind.execute(stmt, batch)
            batch = []
    if batch:
        bind.execute(stmt, batch)
    return changed


def decrypt_notes(bind, ring) -> None:
    """Envelopes back to clear text, NULL → '' (the schema of 0014)."""
    rows = bind.execute(sa.select(delegate.c.id, delegate.c.vetting_note)
                        .where(delegate.c.vetting_note.is_not(None))).all()
    _write(bind, [{"pk": pk, "note": ring.decrypt(note, PURPOSE)} for pk, note in rows])
    bind.execute(sa.update(delegate).where(delegate.c.vetting_note.is_(None))
                 .values(vetting_note=""))


def upgrade():
    with op.batch_alter_table('delegate', schema=None) as batch_op:
        batch_op.alter_column('vetting_note', existing_type=sa.Text(), nullable=True,
                              server_default=None, existing_server_default=sa.text("''"))
    bind = op.get_bind()
    encrypt_notes(bind, _keyring())
    drop_audit_notes(bind)


def downgrade():
    bind = op.get_bind()
    decrypt_notes(bind, _keyring())
    with op.batch_alter_table('delegate', schema=None) as batch_op:
        batch_op.alter_column('vetting_note', existing_type=sa.Text(), nullable=False,
                              server_default='')
