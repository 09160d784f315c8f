"""editions: the forum once a year in one install

Creates `edition`, makes today's data its first edition (seeded from the environment:
EVENT_NAME, EVENT_NAME_ZH, EVENT_DATES, EVENT_DATES_ZH, EVENT_TIMEZONE, EVENT_VENUE,
EVENT_VENUE_ZH, EVENT_ORGANISER, EVENT_CONTACT_EMAIL, REGISTRATION_CLOSES_AT, CAPACITY_*), adds `edition_id` to every forum table, filled with
that edition, then NOT NULL. Uniqueness becomes per edition: a delegate's email, a device's
name, a checkpoint's id (the checkpoint key becomes (edition_id, id); scans and check-ins
point at it with both columns). No row is removed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 09:00:00

"""
import os
from email.utils import parseaddr
import re
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# Every forum table; staff_user and login_throttle stay shared across editions.
SCOPED = ("delegate", "delegate_photo", "checkpoint", "device", "scan", "check_in",
          "outbox_message", "audit_entry")
CATEGORIES = ("government", "expert", "scholar", "ngo")
MONTHS = {m: i for i, m in enumerate(
    ("january february march april may june july august september october november "
     "december").split(), start=1)}


def _settings() -> dict:
    """The environment's event settings, as the app reads them (flask db upgrade runs in
    the app), else straight from the environment with registration/config.py's defaults."""
    try:
        from flask import current_app

        config = dict(current_app.config)
    except RuntimeError:
        config = {}
    env = os.environ
    caps = config.get("CATEGORY_CAPACITIES")
    if caps is None:
        caps = {k: int(env[f"CAPACITY_{k.upper()}"]) for k in CATEGORIES
                if env.get(f"CAPACITY_{k.upper()}", "").strip()}
    closes = config.get("REGISTRATION_CLOSES_AT", "unset")
    if closes == "unset":
        raw = env.get("REGISTRATION_CLOSES_AT", "").strip()
        closes = datetime.fromisoformat(raw) if raw else None
    return {
        "name": config.get("EVENT_NAME") or env.get(
            "EVENT_NAME", "Global Public Safety Cooperation Forum"),
        "name_zh": config.get("EVENT_NAME_ZH") or env.get("EVENT_NAME_ZH", "全球公共安全合作论坛"),
        "dates": config.get("EVENT_DATES") or env.get(
            "EVENT_DATES", "8–10 December 2026 · Lianyungang"),
        "dates_zh": config.get("EVENT_DATES_ZH") or env.get(
            "EVENT_DATES_ZH", "2026年12月8日至10日 · 连云港"),
        "timezone": config.get("EVENT_TIMEZONE") or env.get("EVENT_TIMEZONE", "Asia/Shanghai"),
        "closes_at": closes,
        "capacities": dict(caps),
        "venue": config.get("EVENT_VENUE") or env.get("EVENT_VENUE", ""),
        "venue_zh": config.get("EVENT_VENUE_ZH") or env.get("EVENT_VENUE_ZH", ""),
        "organiser": config.get("EVENT_ORGANISER") or env.get("EVENT_ORGANISER", ""),
        "contact": config.get("EVENT_CONTACT_EMAIL") or env.get("EVENT_CONTACT_EMAIL", "")
        or _public_address(config.get("MAIL_DEFAULT_SENDER")
                           or env.get("MAIL_DEFAULT_SENDER", "")),
    }


def _public_address(sender: str) -> str:
    """The sender's address as the delegates' contact, unless it is a development one
    (accreditation@localhost): the settings page would refuse to save it, and delegates could
    not write to it."""
    address = parseaddr(sender)[1]
    return address if "." in address.rpartition("@")[2] else ""


def _dates(text: str) -> tuple[date, date]:
    """Start and end from EVENT_DATES ("8–10 December 2026 · …"); the forum's by default."""
    m = re.search(r"(\d{1,2})\s*[–-]\s*(\d{1,2})\s+([A-Za-z]+)\s+(\d{4})", text)
    if m and m.group(3).lower() in MONTHS:
        month, year = MONTHS[m.group(3).lower()], int(m.group(4))
        try:
            return date(year, month, int(m.group(1))), date(year, month, int(m.group(2)))
        except ValueError:
            pass
    m = re.search(r"(\d{1,2})\s+([A-Za-z]+)\s+(\d{4})", text)
    if m and m.group(2).lower() in MONTHS:
        try:
            day = date(int(m.group(3)), MONTHS[m.group(2).lower()], int(m.group(1)))
            return day, day
        except ValueError:
            pass
    return date(2026, 12, 8), date(2026, 12, 10)


def _after_dot(text: str) -> str:
    return text.split("·", 1)[1].strip() if "·" in text else ""


def _stamp(bind, value: datetime | None):
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.replace(tzinfo=None) if bind.dialect.name == "sqlite" else value


def upgrade():
    bind = op.get_bind()
    edition = op.create_table(
        'edition',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('slug', sa.String(length=40), nullable=False),
        sa.Column('name_en', sa.String(length=200), nullable=False),
        sa.Column('name_zh', sa.String(length=200), nullable=False),
        sa.Column('starts_on', sa.Date(), nullable=False),
        sa.Column('ends_on', sa.Date(), nullable=False),
        sa.Column('venue_en', sa.String(length=200), nullable=False),
        sa.Column('venue_zh', sa.String(length=200), nullable=False),
        sa.Column('city_en', sa.String(length=100), nullable=False),
        sa.Column('city_zh', sa.String(length=100), nullable=False),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('registration_opens_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('registration_closes_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('capacities', sa.JSON(), nullable=False),
        sa.Column('invitation_only', sa.JSON(), nullable=False),
        sa.Column('organiser_name', sa.String(length=200), nullable=False),
        sa.Column('contact_email', sa.String(length=254), nullable=False),
        sa.Column('privacy_en', sa.Text(), nullable=False),
        sa.Column('privacy_zh', sa.Text(), nullable=False),
        sa.Column('logo', sa.LargeBinary(), nullable=True),
        sa.Column('logo_mime', sa.String(length=32), nullable=False),
        sa.Column('logo_digest', sa.String(length=16), nullable=False),
        sa.Column('retention_until', sa.Date(), nullable=True),
        sa.Column('is_current', sa.Boolean(), nullable=False),
        sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_edition')),
        sa.UniqueConstraint('slug', name=op.f('uq_edition_slug')),
    )

    s = _settings()
    starts, ends = _dates(s["dates"])
    op.bulk_insert(edition, [{
        "id": 1, "slug": str(starts.year), "name_en": s["name"], "name_zh": s["name_zh"],
        "starts_on": starts, "ends_on": ends, "venue_en": s["venue"], "venue_zh": s["venue_zh"],
        "city_en": _after_dot(s["dates"]), "city_zh": _after_dot(s["dates_zh"]),
        "timezone": s["timezone"], "registration_opens_at": None,
        "registration_closes_at": _stamp(bind, s["closes_at"]),
        "capacities": s["capacities"], "invitation_only": [], "organiser_name": s["organiser"],
        "contact_email": s["contact"], "privacy_en": "", "privacy_zh": "", "logo": None,
        "logo_mime": "", "logo_digest": "", "retention_until": None, "is_current": True, "purged_at": None,
        "created_at": _stamp(bind, datetime.now(UTC)),
    }])
    if bind.dialect.name == "postgresql":  # the explicit id 1 must not be handed out again
        op.execute("SELECT setval(pg_get_serial_sequence('edition', 'id'), 1)")

    # Foreign keys that point at checkpoint(id) go before its key becomes (edition_id, id).
    for table in ("scan", "check_in"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_checkpoint_id_checkpoint", type_="foreignkey")

    for table in SCOPED:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column('edition_id', sa.Integer(), nullable=True))
        op.execute(sa.text(f"UPDATE {table} SET edition_id = 1"))
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column('edition_id', existing_type=sa.Integer(), nullable=False)
            batch_op.create_foreign_key(op.f(f"fk_{table}_edition_id_edition"), 'edition',
                                        ['edition_id'], ['id'])
            if table != "checkpoint":
                batch_op.create_index(op.f(f"ix_{table}_edition_id"), ['edition_id'])
            if table == "checkpoint":
                batch_op.drop_constraint("pk_checkpoint", type_="primary")
                batch_op.create_primary_key("pk_checkpoint", ["edition_id", "id"])
            if table == "delegate":
                batch_op.drop_constraint("uq_delegate_email_key", type_="unique")
                batch_op.create_unique_constraint(op.f("uq_delegate_edition_id"),
                                                  ["edition_id", "email_key"])
            if table == "device":
                batch_op.drop_constraint("uq_device_name", type_="unique")
                batch_op.create_unique_constraint(op.f("uq_device_edition_id"),
                                                  ["edition_id", "name"])

    for table in ("scan", "check_in"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.create_foreign_key(op.f(f"fk_{table}_edition_id_checkpoint"), 'checkpoint',
                                        ['edition_id', 'checkpoint_id'], ['edition_id', 'id'])


def downgrade():
    bind = op.get_bind()
    count = bind.execute(sa.text("SELECT count(*) FROM edition")).scalar()
    if count and count > 1:
        raise RuntimeError("More than one edition: a downgrade would mix their records. "
                           "Purge and delete the other editions first.")
    for table in ("scan", "check_in"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_edition_id_checkpoint", type_="foreignkey")
    for table in reversed(SCOPED):
        with op.batch_alter_table(table) as batch_op:
            if table == "device":
                batch_op.drop_constraint("uq_device_edition_id", type_="unique")
                batch_op.create_unique_constraint("uq_device_name", ["name"])
            if table == "delegate":
                batch_op.drop_constraint("uq_delegate_edition_id", type_="unique")
                batch_op.create_unique_constraint("uq_delegate_email_key", ["email_key"])
            if table == "checkpoint":
                batch_op.drop_constraint("pk_checkpoint", type_="primary")
                batch_op.create_primary_key("pk_checkpoint", ["id"])
            else:
                batch_op.drop_index(f"ix_{table}_edition_id")
            batch_op.drop_constraint(f"fk_{table}_edition_id_edition", type_="foreignkey")
            batch_op.drop_column('edition_id')
    for table in ("scan", "check_in"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.create_foreign_key(f"fk_{table}_checkpoint_id_checkpoint", 'checkpoint',
                                        ['checkpoint_id'], ['id'])
    op.drop_table('edition')
