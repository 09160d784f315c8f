"""Key rotation for data encrypted at rest (data_crypto.py, models/types.EncryptedText).

`rotate()` finds every EncryptedText column of every table from the models' metadata (so
tables added later — watchlists, visa letters — are covered without being listed here),
re-encrypts each value not written with the current key, and recomputes keyed hashes: a
column named `<column>_hash` beside an encrypted `<column>` holds
`keyring.keyed_hash(normalise_document_number(value))` (as `delegate_identity.
document_number_hash` does), and is rewritten under the current key.

The procedure (README, "Keys"): make a key with `privacy new-key`; set it as
DATA_ENCRYPTION_KEY and move the old one to DATA_ENCRYPTION_OLD_KEYS; restart; run
`privacy rotate-key`; then the old key may be dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Table, Text, and_, bindparam, select, type_coerce, update

from ..data_crypto import DataKeyring, app_keyring, normalise_document_number
from ..extensions import db
from ..models.types import EncryptedText
from . import audit
from .watchlist import entries as watchlist_entries

BATCH = 500


@dataclass
class RotationReport:
    key_id: str
    reencrypted: dict[str, int] = field(default_factory=dict)  # "table.column" → values
    hashes: dict[str, int] = field(default_factory=dict)  # "table.column" → rewritten
    rows: dict[str, int] = field(default_factory=dict)  # table → rows read

    @property
    def total(self) -> int:
        return sum(self.reencrypted.values())


def encrypted_columns() -> dict[Table, list[Column[Any]]]:
    """Every table with EncryptedText columns, and those columns."""
    found: dict[Table, list[Column[Any]]] = {}
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, EncryptedText)]
        if columns:
            found[table] = columns
    return found


def _rotate_table(table: Table, columns: list[Column[Any]], ring: DataKeyring,
                  report: RotationReport) -> None:
    keys = list(table.primary_key.columns)
    # Only document numbers are hashed in normalised form here; other keyed hashes (the
    # watchlist's date of birth) are recomputed by their own module (watchlist.rehash).
    hashed = {c.name: table.c[f"{c.name}_hash"] for c in columns
              if c.name.endswith("document_number") and f"{c.name}_hash" in table.c}
    # Read the stored envelopes as text (type_coerce skips EncryptedText's decryption).
    stmt = select(*keys, *[type_coerce(c, Text).label(c.name) for c in columns],
                  *hashed.values())
    rows = db.session.execute(stmt).mappings().all()
    report.rows[table.name] = len(rows)
    changes: list[dict[str, Any]] = []
    names = [c.name for c in columns] + [h.name for h in hashed.values()]
    for row in rows:
        values: dict[str, Any] = {}
        for column in columns:
            stored = row[column.name]
            if stored is None:
                continue
            purpose = column.type.purpose  # type: ignore[attr-defined]
            clear = ring.decrypt(stored, purpose)
            if not ring.is_current(stored):
                values[column.name] = clear  # EncryptedText encrypts with the current key
                report.reencrypted[f"{table.name}.{column.name}"] = \
                    report.reencrypted.get(f"{table.name}.{column.name}", 0) + 1
            if column.name in hashed:
                normalised = normalise_document_number(clear)
                digest = ring.keyed_hash(normalised) if normalised else None
                hash_name = hashed[column.name].name
                if row[hash_name] != digest:
                    values[hash_name] = digest
                    report.hashes[f"{table.name}.{hash_name}"] = \
                        report.hashes.get(f"{table.name}.{hash_name}", 0) + 1
        if values:
            # One statement shape for the batch: unchanged columns keep their value.
            full = {name: values.get(name, _Keep) for name in names}
            changes.append({**{f"pk_{k.name}": row[k.name] for k in keys}, **full})
    for name in names:
        batch = [c for c in changes if c[name] is not _Keep]
        for start in range(0, len(batch), BATCH):
            chunk = [{**{k: v for k, v in c.items() if k.startswith("pk_")},
                      "value": c[name]} for c in batch[start:start + BATCH]]
            db.session.execute(
                update(table).where(and_(*[k == bindparam(f"pk_{k.name}") for k in keys]))
                .values({name: bindparam("value", type_=table.c[name].type)}), chunk)


class _Keep:
    """Marks a column a row leaves as it is."""


def rotate(*, actor: str = "system") -> RotationReport:
    """Re-encrypt every value under the current key and recompute keyed hashes; audited
    and committed. Raises data_crypto.DataKeyError (nothing written) if a value cannot be
    read with the configured keys."""
    ring = app_keyring()
    report = RotationReport(key_id=ring.current_id)
    try:
        for table, columns in encrypted_columns().items():
            _rotate_table(table, columns, ring, report)
        report.hashes["watchlist_entry (number and birth date)"] = watchlist_entries.rehash()
        audit.record(None, "data_key_rotated", actor=actor, key_id=ring.current_id,
                     reencrypted=report.total, columns=report.reencrypted,
                     hashes=report.hashes)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return report
