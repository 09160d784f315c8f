"""Vetting export/import benchmark (part of bench/vetting.py): ``python bench/vetting_exchange.py``.

Parts (each a function of its own; `all` runs every one):

* ``export`` — the exchange of files with the vetting service: 5,000 delegates with
  encrypted identity data, timed through the CLI as an operator runs it:
  ``flask --app wsgi vetting export -o batch.csv --status all`` (decrypting every date of
  birth, document number and expiry) and ``flask --app wsgi vetting import results.csv``
  (5,000 decisions, all or nothing: one transaction, an audit entry each, a mail for each
  more_info and every printed badge of a rejected delegate revoked). Target: each < 5 s.

Creates a fresh schema in the given database (its public schema is DROPPED on PostgreSQL:
give it a database the bench may own).

    python bench/vetting_exchange.py                 # a temporary SQLite file
    python bench/vetting_exchange.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_vetting
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))

from _server import ensure_postgres_database, fresh_database  # noqa: E402

from registration import create_app  # noqa: E402
from registration.data_crypto import app_keyring, normalise_document_number  # noqa: E402
from registration.extensions import db  # noqa: E402
from registration.models import Delegate, DelegateIdentity, Edition  # noqa: E402
from registration.text import REFERENCE_ALPHABET, search_key  # noqa: E402

PEOPLE = [
    ("Xiaoming", "Wang", "王小明", "CN"), ("Maria", "Ivanova", "Мария Иванова", "RU"),
    ("Mohammed", "Al-Rashid", "محمد الراشد", "SA"), ("José", "Núñez García", "", "MX"),
    ("Hiroshi", "Tanaka", "田中宏", "JP"), ("Anaïs", "Lefèvre", "", "FR"),
]
CATEGORIES = ["government", "expert", "scholar", "ngo"]


def reference(i: int) -> str:
    chars, n = [], i
    for _ in range(8):
        chars.append(REFERENCE_ALPHABET[n % len(REFERENCE_ALPHABET)])
        n //= len(REFERENCE_ALPHABET)
    s = "".join(chars)
    return f"GPS-{s[:4]}-{s[4:]}"


def make_app(database_url: str) -> Any:
    tmp = Path(tempfile.mkdtemp(prefix="bench-vetting-"))
    url = database_url or f"sqlite:///{tmp / 'vetting.sqlite3'}"
    if url.startswith("postgresql"):
        ensure_postgres_database(url)
        fresh_database(url)
    app = create_app({
        "APP_ENV": "testing", "TESTING": False, "SECRET_KEY": "bench-" + "x" * 40,
        "SQLALCHEMY_DATABASE_URI": url, "INSTANCE_DIR": str(tmp), "WTF_CSRF_ENABLED": False,
        "MAIL_BACKGROUND": False,
    })
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        edition = db.session.scalars(sa.select(Edition)).first()
        edition.vetting_required = True
        db.session.commit()
    app.config["BENCH_TMP"] = tmp
    return app


def populate(count: int, seed: int = 11) -> list[str]:
    """`count` approved delegates (a third printed) with full identity data; references."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    rows, refs = [], []
    for i in range(count):
        given, family, native, country = PEOPLE[i % len(PEOPLE)]
        ref = reference(i * 7919 + 13)
        refs.append(ref)
        printed = i % 3 == 0
        rows.append({
            "public_id": uuid.uuid4(), "reference": ref, "category": CATEGORIES[i % 4],
            "status": "badge_printed" if printed else "approved", "source": "import",
            "honorific": "", "given_name": given, "family_name": f"{family}{i}",
            "native_name": native, "badge_name": "", "organisation": "Ministry",
            "position": "Officer", "country": country, "email": f"p{i}@example.org",
            "email_key": f"p{i}@example.org", "phone": "", "dietary_needs": "",
            "accessibility_needs": "", "details": {}, "locale": "en", "consent_at": now,
            "badge_serial": 1, "print_count": 1 if printed else 0,
            "printed_at": now if printed else None, "needs_reprint": False,
            "vetting_status": "pending", "created_at": now - timedelta(seconds=count - i),
            "updated_at": now, "search_text": search_key(f"{given} {family}{i} {ref}"),
        })
    for start in range(0, count, 2000):
        db.session.execute(sa.insert(Delegate), rows[start:start + 2000])
    db.session.commit()
    ids = dict(db.session.execute(sa.select(Delegate.reference, Delegate.id)).tuples().all())
    keyring = app_keyring()
    identities = []
    for i, ref in enumerate(refs):
        number = f"E{rng.randrange(10**7, 10**8)}"
        identities.append({
            "delegate_id": ids[ref], "nationality": PEOPLE[i % len(PEOPLE)][3],
            "date_of_birth": f"19{rng.randrange(50, 99)}-0{rng.randrange(1, 9)}-1{i % 9}",
            "document_type": "passport", "document_number": number,
            "document_number_hash": keyring.keyed_hash(normalise_document_number(number)),
            "document_country": PEOPLE[i % len(PEOPLE)][3], "document_expiry": "2031-05-01",
            "updated_at": now})
    for start in range(0, count, 2000):
        db.session.execute(sa.insert(DelegateIdentity), identities[start:start + 2000])
    db.session.commit()
    return refs


def bench_exchange(database_url: str, count: int) -> None:
    """The `export` part: vetting export and import of `count` rows through the CLI."""
    app = make_app(database_url)
    tmp: Path = app.config["BENCH_TMP"]
    with app.app_context():
        started = time.perf_counter()
        refs = populate(count)
        dialect = db.engine.dialect.name
        print(f"{dialect}: {count} delegates with encrypted identity data inserted in "
              f"{time.perf_counter() - started:.1f} s")
    runner = app.test_cli_runner()
    batch = tmp / "batch.csv"
    started = time.perf_counter()
    result = runner.invoke(args=["vetting", "export", "-o", str(batch), "--status", "all"])
    exported = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    with batch.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == count
    assert all(r["document_number"].startswith("E") for r in rows)
    print(f"vetting export: {count} rows in {exported:.2f}s ({count / exported:,.0f} rows/s) "
          f"{_verdict(exported)}")

    rng = random.Random(3)
    results = tmp / "results.csv"
    decisions = {"cleared": 0, "rejected": 0, "more_info": 0}
    with results.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["reference", "decision", "note"])
        for ref in refs:
            decision = rng.choices(list(decisions), weights=[90, 3, 7])[0]
            decisions[decision] += 1
            writer.writerow([ref, decision, "Please confirm your employer."
                             if decision == "more_info" else ""])
    started = time.perf_counter()
    result = runner.invoke(args=["vetting", "import", str(results)])
    imported = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    with app.app_context():
        stored = dict(db.session.execute(sa.select(
            Delegate.vetting_status, sa.func.count()).group_by(Delegate.vetting_status)
        ).tuples().all())
    assert stored == {k: v for k, v in decisions.items() if v}, (stored, decisions)
    print(f"vetting import: {count} rows in {imported:.2f}s ({count / imported:,.0f} rows/s) "
          f"{_verdict(imported)}")
    print("  decisions: " + ", ".join(f"{n:,} {decision.replace('_', ' ')}"
                                      for decision, n in decisions.items()))


TARGET_SECONDS = 5  # export and import of the whole batch, each


def _verdict(took: float) -> str:
    return f"{'OK' if took < TARGET_SECONDS else 'OVER'} (target < {TARGET_SECONDS} s)"


# Part name → function(database_url, count). The watchlist part (issue 15, part 3) adds
# itself here in a function of its own.
PARTS: dict[str, Callable[[str, int], None]] = {"export": bench_exchange}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--part", choices=[*PARTS, "all"], default="all")
    parser.add_argument("--count", type=int, default=5000, help="delegates (default 5,000)")
    args = parser.parse_args()
    for name, part in PARTS.items():
        if args.part in (name, "all"):
            part(args.database_url, args.count)


if __name__ == "__main__":
    main()
