"""The API's JSON shapes: how a scan result, a delegate, a checkpoint and the offline
snapshot are written. `openapi.py` documents the same shapes; tests/test_api.py checks
that real responses match it."""

from __future__ import annotations

from typing import Any

from flask import has_request_context, url_for

from ..countries import country_name
from ..fields import CATEGORY_KEYS
from ..i18n import category_label, current_language
from ..models import Checkpoint
from ..models.status import ACCREDITED_VALUES
from ..services.checkin import display_name, is_head_of_delegation, iso
from ..services.checkin.records import ScanResult
from ..services.checkin.snapshot import Snapshot
from ..services.delegations import delegation_label


def photo_url(delegate: Any) -> str:
    if has_request_context():
        return url_for("checkin.photo", public_id=delegate.public_id)
    return f"/checkin/photo/{delegate.public_id}.jpg"


def thumb_url(public_id: Any, version: Any) -> str | None:
    """Where a door fetches a delegate's offline photo; `version` (the photo's updated_at)
    changes the address when the photo changes, so the device's copy is replaced."""
    if version is None:
        return None
    stamp = int(version.timestamp() * 1000)
    if has_request_context():
        return url_for("checkin.thumb", public_id=public_id, v=stamp)
    return f"/checkin/thumb/{public_id}.jpg?v={stamp}"


def delegate_json(delegate: Any, has_photo: bool = False) -> dict[str, Any]:
    """What a scanner shows about a delegate (no contact data). `delegate` is a Delegate or
    the scan's DelegateView."""
    return {
        "public_id": str(delegate.public_id),
        "reference": delegate.reference,
        "name": display_name(delegate),
        "honorific": delegate.honorific,
        "given_name": delegate.given_name,
        "family_name": delegate.family_name,
        "native_name": delegate.native_name,
        "organisation": delegate.organisation,
        "category": delegate.category,
        "category_label": category_label(delegate.category),
        "country": delegate.country,
        "country_name": (country_name(delegate.country, current_language())
                         if delegate.country else ""),
        "status": delegate.status,
        "badge_serial": delegate.badge_serial,
        "head_of_delegation": is_head_of_delegation(delegate.details),
        "photo_url": photo_url(delegate) if has_photo else None,
        "delegation_name": delegation_label(delegate, current_language()),
    }


def scan_result_json(result: ScanResult) -> dict[str, Any]:
    """The answer to POST /checkins (schema CheckinResult)."""
    return {
        "status": result.status.value,
        "delegate": (delegate_json(result.delegate, result.has_photo)
                     if result.delegate is not None else None),
        "checked_in_at": iso(result.checked_in_at),
        "checkpoint": result.checkpoint_id,
        "checkpoint_name": result.checkpoint_name,
        "scanned_at": iso(result.scanned_at),
        "offline": result.offline,
        "reason": result.reason,
        "superseded_at": iso(result.superseded_at),
        "replayed": result.replayed,
        "method": result.method.value,
    }


def checkpoint_json(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "id": checkpoint.id,
        "name": checkpoint.name,
        "allowed_categories": checkpoint.allowed_categories,
        "admit_heads_of_delegation": checkpoint.admit_heads_of_delegation,
        "active": checkpoint.active,
    }


def snapshot_json(snapshot: Snapshot) -> dict[str, Any]:
    """The answer to GET /checkin-snapshot (schema Snapshot), labels in the reader's
    language."""
    lang = current_language()
    labels: dict[tuple[int | None, str | None], str | None] = {}

    def label(row: Any) -> str | None:  # one look-up per delegation and country
        key = (row.delegation_id, row.country)
        if key not in labels:
            labels[key] = delegation_label(row, lang)
        return labels[key]

    delegates = [
        {
            "public_id": str(r.public_id),
            "name": r.badge_name or " ".join(p for p in (r.given_name, r.family_name) if p),
            "honorific": r.honorific,
            "native_name": r.native_name,
            "category": r.category,
            "country": r.country,
            "status": r.status,
            "badge_serial": r.badge_serial,
            "head_of_delegation": is_head_of_delegation(r.details),
            "delegation_name": label(r) if r.delegation_id is not None else None,
            "thumb_url": thumb_url(r.public_id, r.photo_at),
            "refused": False,
        }
        for r in snapshot.delegates
    ]
    # Rejected or cancelled: no name, no category, nothing but what refuses the badge.
    refused = [{"public_id": str(r.public_id), "badge_serial": r.badge_serial,
                "refused": True, "reason": r.reason} for r in snapshot.refused]
    return {
        "generated_at": iso(snapshot.generated_at),
        "accredited_statuses": list(ACCREDITED_VALUES),
        "category_labels": {key: category_label(key) for key in CATEGORY_KEYS},
        "country_names": {code: country_name(code, lang) for code in
                          sorted({d["country"] for d in delegates if d["country"]})},
        "public_keys": snapshot.public_keys,
        "references": snapshot.references,
        "edition": snapshot.edition,
        "legacy_edition": snapshot.legacy_edition,
        "checkpoints": [checkpoint_json(c) for c in snapshot.checkpoints],
        "delegates": delegates + refused,
    }
