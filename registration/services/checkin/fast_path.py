"""The lean path for the one hot endpoint, `POST /api/v1/checkins` from a scanner device
(bearer token), online QR scans, on PostgreSQL: the same decision and the same rows as
`scan.check_in`, in ONE round trip to the database and without an ORM session.

* The device token is looked up through `devices.authenticate_cached` (a few seconds'
  cache per process; a revocation is seen at once in the process that made it and within
  DEVICE_CACHE_SECONDS elsewhere).
* The current edition's id comes from the per-process cache (editions.cached_current_edition,
  EDITION_CACHE_SECONDS), and the statement checks that it is still the current one (else
  no row: the cache is forgotten and the full path answers), so a switch of edition is
  never answered wrongly.
* The signature is checked in Python; everything else is one SQL statement (below) sent on
  a per-thread psycopg connection in autocommit mode (one statement = one transaction),
  prepared by the server after a few uses. It reads the checkpoint and the delegate,
  decides the outcome with the same rules as `scan.check_in` (serial, status, the vetting
  gate of services/admission.py with the edition's switch as a parameter, zone), and
  writes the scan, the check-in (INSERT … ON CONFLICT DO NOTHING: the unique key decides
  exactly-once), the status compare-and-set and the audit entry.
* Anything unusual goes to `scan.check_in` (return None): a replayed nonce, an unknown or
  closed checkpoint, an offline scan (`scanned_at`: earliest-wins corrections), another
  database, a connection error. The rare race of two first scans of one badge at the same
  door is answered here: the loser's check-in insert does nothing and its scan is stored
  as `already_checked_in`, as in `scan.check_in`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import uuid
from typing import Any

from ... import badge_token
from ...editions import (
    cached_current_edition,
    first_edition_id,
    forget_cached_edition,
    forget_request_edition,
)
from ...extensions import db
from ...models import ACCREDITED, Status
from ...models.checkin import ScanOutcome
from ...models.status import can_transition
from ...models.types import utcnow
from ...text import parse_reference
from ..admission import REASON_VETTING, refusal_for, vetting_required
from ..badge_signing import public_keys
from . import iso
from .records import DelegateView, ScanResult
from .scan import MAX_CODE_LENGTH, MAX_NONCE_LENGTH

ACCREDITED_LIST = [s.value for s in ACCREDITED]
MOVABLE = [s.value for s in Status if s != Status.CHECKED_IN
           and can_transition(s, Status.CHECKED_IN)]
HEAD_WORDS = ["y", "yes", "true", "1", "on"]
log = logging.getLogger(__name__)

# One statement (no SQL comments: it is folded onto one line). `decision` mirrors
# scan.check_in's rules (a checkpoint without a category list has json_typeof NULL: no zone
# check); the scan id is drawn first so
# that the check-in (inserted before the scan, the foreign key is checked at the end of the
# statement) can name it, and the scan's stored result can say whether the check-in won.
SCAN_SQL = """
WITH cp AS (
  SELECT id, name, allowed_categories, admit_heads_of_delegation AS heads
  FROM checkpoint WHERE id = %(checkpoint)s AND edition_id = %(edition)s AND active
    AND %(edition)s = (SELECT e.id FROM edition e ORDER BY e.is_current DESC, e.id LIMIT 1)
), d AS (
  SELECT id, public_id, reference, honorific, given_name, family_name, native_name,
         badge_name, organisation, category, country, status, badge_serial, details,
         delegation_id, vetting_status,
         EXISTS (SELECT 1 FROM delegate_photo p WHERE p.delegate_id = delegate.id) AS has_photo
  FROM delegate WHERE public_id = %(badge_id)s::uuid AND edition_id = %(edition)s
), seen AS (
  SELECT 1 FROM scan WHERE nonce = %(nonce)s
), decision AS (
  SELECT cp.id AS cp_id, cp.name AS cp_name, d.*,
    CASE
      WHEN %(invalid)s::boolean OR d.id IS NULL OR %(serial)s::int > d.badge_serial THEN 'invalid'
      WHEN %(serial)s < d.badge_serial THEN 'revoked'
      WHEN NOT (d.status = ANY(%(accredited)s)) THEN 'not_accredited'
      WHEN %(vetting)s::boolean AND d.vetting_status <> 'cleared' THEN 'not_accredited'
      WHEN json_typeof(cp.allowed_categories) = 'array'
           AND NOT (d.category IN (SELECT json_array_elements_text(cp.allowed_categories)))
           AND NOT (cp.heads AND CASE json_typeof(d.details -> 'head_of_delegation')
                 WHEN 'string' THEN lower(trim(d.details ->> 'head_of_delegation'))
                                    = ANY(%(head_words)s)
                 WHEN 'boolean' THEN d.details ->> 'head_of_delegation' = 'true'
                 WHEN 'number' THEN (d.details ->> 'head_of_delegation')::numeric <> 0
                 ELSE false END)
        THEN 'zone_denied'
      ELSE 'checked_in' END AS outcome,
    EXISTS (SELECT 1 FROM check_in c WHERE c.delegate_id = d.id
            AND c.checkpoint_id = cp.id) AS already
  FROM cp LEFT JOIN d ON true
  WHERE NOT EXISTS (SELECT 1 FROM seen)
), ids AS (
  SELECT nextval(pg_get_serial_sequence('scan', 'id')) AS scan_id
), ci AS (
  INSERT INTO check_in (delegate_id, checkpoint_id, scan_id, checked_in_at, edition_id)
  SELECT decision.id, decision.cp_id, ids.scan_id, %(now)s, %(edition)s FROM decision, ids
  WHERE decision.outcome = 'checked_in' AND NOT decision.already
  ON CONFLICT (delegate_id, checkpoint_id) DO NOTHING
  RETURNING checked_in_at
), s AS (
  INSERT INTO scan (id, nonce, checkpoint_id, delegate_id, device_id, staff_id, badge_serial,
                    result, scanned_at, received_at, offline, method, edition_id)
  SELECT ids.scan_id, %(nonce)s, decision.cp_id,
         CASE WHEN decision.outcome = 'invalid' THEN NULL ELSE decision.id END,
         %(device_id)s::int, NULL,
         CASE WHEN decision.outcome IN ('invalid', 'revoked') THEN NULL ELSE %(serial)s END,
         CASE WHEN decision.outcome = 'checked_in' AND NOT EXISTS (SELECT 1 FROM ci)
              THEN 'already_checked_in' ELSE decision.outcome END,
         %(now)s, %(now)s, false, 'qr', %(edition)s
  FROM decision, ids
  ON CONFLICT (nonce) DO NOTHING
  RETURNING id, result
), st AS (
  UPDATE delegate SET status = 'checked_in', updated_at = %(now)s
  FROM ci, decision
  WHERE delegate.id = decision.id AND delegate.status = decision.status
    AND decision.status = ANY(%(movable)s)
  RETURNING delegate.id
), au AS (
  INSERT INTO audit_entry (delegate_id, staff_id, actor, action, details, created_at,
                           edition_id)
  SELECT decision.id, NULL, %(actor)s, 'checked_in',
         json_build_object('status_from', decision.status,
                           'moved', EXISTS (SELECT 1 FROM st), 'at', %(at)s::text,
                           'gate', decision.cp_id, 'gate_name', decision.cp_name,
                           'device', %(device_name)s::text, 'offline', false,
                           'method', 'qr'),
         %(now)s, %(edition)s
  FROM ci, decision
)
SELECT s.result, decision.cp_id, decision.cp_name,
       (SELECT checked_in_at FROM ci) AS admitted_at,
       (SELECT c.checked_in_at FROM check_in c WHERE c.delegate_id = decision.id
          AND c.checkpoint_id = decision.cp_id) AS first_at,
       EXISTS (SELECT 1 FROM st) AS moved,
       decision.id, decision.public_id, decision.reference, decision.honorific,
       decision.given_name, decision.family_name, decision.native_name,
       decision.badge_name, decision.organisation, decision.category, decision.country,
       decision.status, decision.badge_serial, decision.details, decision.delegation_id,
       decision.vetting_status, decision.has_photo
FROM s, decision
"""



def _in_list(values: list[str]) -> str:
    """A constant list of our own state words as an SQL IN list (written into the
    statement once, instead of adapting three arrays on every scan)."""
    if not all(v.replace("_", "").isalnum() for v in values):
        raise ValueError(f"not plain state words: {values}")
    return "IN (" + ", ".join(f"'{v}'" for v in values) + ")"


SCAN_SQL = (SCAN_SQL.replace("= ANY(%(accredited)s)", _in_list(ACCREDITED_LIST))
            .replace("= ANY(%(head_words)s)", _in_list(HEAD_WORDS))
            .replace("= ANY(%(movable)s)", _in_list(MOVABLE)))
# Whitespace folded: under psycopg's 4 kB limit for caching the parsed query.
SCAN_SQL = " ".join(SCAN_SQL.split())

_VIEW_FIELDS = ("id", "public_id", "reference", "honorific", "given_name", "family_name",
                "native_name", "badge_name", "organisation", "category", "country", "status",
                "badge_serial", "details", "delegation_id", "vetting_status", "has_photo")
_local = threading.local()


def available() -> bool:
    return bool(db.engine.dialect.name == "postgresql")


def _connection() -> Any:
    """This thread's autocommit connection (a new one after a fork or an error)."""
    conn = getattr(_local, "conn", None)
    if conn is not None and (_local.pid != os.getpid() or conn.closed):
        conn = None
    if conn is None:
        import psycopg

        url = db.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False)
        conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
        _local.conn, _local.pid = conn, os.getpid()
    return conn


def _drop_connection() -> None:
    conn = getattr(_local, "conn", None)
    _local.conn = None
    if conn is not None:
        with contextlib.suppress(Exception):  # it is being thrown away
            conn.close()


def check_in(code: Any, checkpoint_id: Any, nonce: Any, device: Any) -> ScanResult | None:
    """Decide and record one online scan from `device`, or None: use scan.check_in."""
    if not (isinstance(nonce, str) and 8 <= len(nonce) <= MAX_NONCE_LENGTH
            and isinstance(code, str) and len(code) <= MAX_CODE_LENGTH
            and isinstance(checkpoint_id, str) and checkpoint_id):
        return None  # the full path gives the precise error
    if (not code.strip().upper().startswith(badge_token.PREFIX)
            and parse_reference(code) is not None):
        return None  # a typed reference code: the identity check is on the full path
    badge_id: uuid.UUID | None = None
    serial = 0
    reason: str | None = None
    # Cached per process, read without an ORM session (editions.py); the SQL re-checks it.
    current = cached_current_edition()
    edition = current.id if current is not None else None
    try:
        token = badge_token.verify(code, public_keys(), edition=edition,
                                   legacy_edition=first_edition_id())
        badge_id, serial = token.badge_id, token.serial
    except badge_token.BadgeTokenError as exc:
        reason = exc.reason
    now = utcnow()
    params = {
        "checkpoint": checkpoint_id, "badge_id": badge_id, "nonce": nonce,
        "invalid": reason is not None, "serial": serial,
        "vetting": vetting_required(current),  # the vetting gate (services/admission.py)
        "now": now, "at": iso(now),
        "device_id": device.id, "device_name": device.name, "actor": f"device:{device.name}",
        "edition": edition,
    }
    try:
        conn = _connection()
        row = conn.execute(SCAN_SQL, params).fetchone()
    except Exception as exc:
        if not isinstance(exc, OSError) and exc.__class__.__name__ != "OperationalError":
            log.exception("check-in fast path failed; using the full path")
        _drop_connection()
        return None
    if row is None:  # a replayed nonce, a closed checkpoint, another edition now current
        # The full path answers. Unless the nonce was seen (a re-sent scan: the stored answer
        # is the full path's), it resolves the edition afresh in case that was the cause.
        if conn.execute("SELECT 1 FROM scan WHERE nonce = %s", (nonce,)).fetchone() is None:
            forget_cached_edition()
            forget_request_edition()
        return None
    stored, cp_id, cp_name, admitted_at, first_at, _moved, *columns = row
    outcome = ScanOutcome(stored)
    result = ScanResult(status=outcome, checkpoint_id=cp_id, checkpoint_name=cp_name,
                        scanned_at=now)
    values = dict(zip(_VIEW_FIELDS, columns, strict=True))
    if values["id"] is not None and outcome != ScanOutcome.INVALID:
        values["details"] = values["details"] or {}
        values["has_photo"] = bool(values["has_photo"])
        delegate = DelegateView(**values)
        if admitted_at is not None:
            delegate.status = Status.CHECKED_IN.value if _moved else delegate.status
        result.delegate, result.has_photo = delegate, delegate.has_photo
    if outcome == ScanOutcome.INVALID:
        result.reason = reason or "unknown_badge"
    elif outcome == ScanOutcome.NOT_ACCREDITED and result.delegate is not None:
        result.reason = (REASON_VETTING if refusal_for(result.delegate) == REASON_VETTING
                         else None)
    elif outcome == ScanOutcome.CHECKED_IN:
        result.checked_in_at = admitted_at
    elif outcome == ScanOutcome.ALREADY_CHECKED_IN:
        # The statement's snapshot may miss a check-in committed a moment ago (two first
        # scans racing): read it then.
        result.checked_in_at = first_at or conn.execute(
            "SELECT checked_in_at FROM check_in WHERE delegate_id = %s AND checkpoint_id = %s",
            (values["id"], cp_id)).fetchone()[0]
    return result
