"""Watchlist matching at forum scale (part of bench/vetting.py), on SQLite or PostgreSQL:

- watchlist: 5,000 delegates with identity data (names in Latin, Cyrillic and Han), a
  watchlist file of 10,000 entries with planted matches (names in another script and the
  same date of birth, document numbers written differently). Times the whole
  `watchlist import` (read, validate, encrypt, store, match everyone), the matching alone
  (`rematch_all`), and the matching one registration costs (the commit hook's
  `match_delegates`). Checks every planted match is found. Target: < 10 s.

Creates a fresh schema in the given database (its public schema is DROPPED on PostgreSQL:
give it a database the bench may own).

    python bench/vetting_watchlist.py
    python bench/vetting_watchlist.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_vetting
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))

from _server import ensure_postgres_database, fresh_database  # noqa: E402
from flask import Flask  # noqa: E402

from registration import create_app  # noqa: E402
from registration.data_crypto import app_keyring, normalise_document_number  # noqa: E402
from registration.extensions import db  # noqa: E402
from registration.models import Delegate, DelegateIdentity, WatchlistHit  # noqa: E402

SYLLABLES = ["an", "bel", "cor", "dan", "el", "fer", "gar", "hol", "ist", "jor", "kal",
             "lin", "mor", "nor", "ol", "per", "quin", "ros", "sal", "tor", "ul", "ven",
             "wil", "xan", "yor", "zel"]
# Planted name matches: (delegate given, family, native) → watchlist (family, given).
PLANTED_NAMES = [
    (("Сергей", "Иванов", ""), ("IVANOV", "Sergei")),
    (("Xiaoming", "Wong", "王小明"), ("WANG", "Xiao Ming")),
    (("Hua", "Li", ""), ("李", "华")),
    (("Мария", "Петрова", ""), ("PETROVA", "Maria")),
    (("Jürgen", "Müller", ""), ("MUELLER", "Jurgen")),
]


def _name(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


def _birth_date(rng: random.Random) -> str:
    return (date(1950, 1, 1) + timedelta(days=rng.randrange(50 * 365))).isoformat()


def _passport(rng: random.Random) -> str:
    return "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2)) + \
        f"{rng.randrange(10**7):07d}"


def populate_delegates(count: int, rng: random.Random) -> list[dict]:
    """Bulk-insert `count` delegates with identity data; returns their identities."""
    now = datetime.now(UTC)
    ring = app_keyring()
    rows, people = [], []
    for i in range(count):
        given, family, native = _name(rng, 2), _name(rng, 3), ""
        if i % 7 == 0:
            given, family, native = given, family, f"{family} {given}"
        email = f"bench{i}@example.org"
        rows.append({
            "public_id": uuid.uuid4(), "reference": f"BV{i:07d}", "category": "government",
            "status": "approved", "source": "self", "honorific": "", "given_name": given,
            "family_name": family, "native_name": native, "badge_name": f"{given} {family}",
            "organisation": "Ministry", "position": "Officer", "country": "FR",
            "email": email, "email_key": email, "phone": "", "dietary_needs": "",
            "accessibility_needs": "", "details": {}, "locale": "en", "consent_at": now,
            "badge_serial": 1, "print_count": 0, "needs_reprint": False, "created_at": now,
            "updated_at": now, "search_text": f"{given} {family}".lower(),
            "vetting_status": "pending", "vetting_note": None, "vetted_by": ""})
        people.append({"given": given, "family": family, "born": _birth_date(rng),
                       "number": _passport(rng)})
    for start in range(0, count, 2000):
        db.session.execute(sa.insert(Delegate), rows[start:start + 2000])
    ids = dict(db.session.execute(sa.select(Delegate.reference, Delegate.id)).tuples().all())
    identities = [{
        "delegate_id": ids[f"BV{i:07d}"], "nationality": "FR", "date_of_birth": p["born"],
        "document_type": "passport", "document_number": p["number"],
        "document_number_hash": ring.keyed_hash(normalise_document_number(p["number"])),
        "document_country": "FR", "document_expiry": "2035-01-01", "updated_at": now}
        for i, p in enumerate(people)]
    for start in range(0, count, 2000):
        db.session.execute(sa.insert(DelegateIdentity), identities[start:start + 2000])
    db.session.commit()
    return [{**p, "delegate_id": ident["delegate_id"]}
            for p, ident in zip(people, identities, strict=True)]


def watchlist_csv(entries: int, people: list[dict], rng: random.Random
                  ) -> tuple[bytes, set[int]]:
    """A watchlist file with planted matches; returns it and the delegate ids planted."""
    lines = ["family_name,given_name,date_of_birth,nationality,document_number,note"]
    planted: set[int] = set()
    # Document numbers written the agency's way ("AB 1234-567") for 25 delegates.
    for person in people[100:125]:
        n = person["number"]
        lines.append(f"{_name(rng, 3).upper()},{_name(rng, 2)},,FR,"
                     f"{n[:2].lower()} {n[2:6]}-{n[6:]},planted number")
        planted.add(person["delegate_id"])
    # Names in another script, same birthday: rewrite 25 delegates' names and plant them.
    for k, person in enumerate(people[200:225]):
        (given, family, native), (w_family, w_given) = PLANTED_NAMES[k % len(PLANTED_NAMES)]
        db.session.execute(sa.update(Delegate).where(Delegate.id == person["delegate_id"])
                           .values(given_name=given, family_name=family, native_name=native))
        lines.append(f"{w_family},{w_given},{person['born']},,,planted name")
        planted.add(person["delegate_id"])
    db.session.commit()
    while len(lines) <= entries:
        lines.append(f"{_name(rng, 3).upper()},{_name(rng, 2)},{_birth_date(rng)},DE,"
                     f"{_passport(rng) if rng.random() < 0.5 else ''},random")
    return ("\n".join(lines) + "\n").encode(), planted


def bench_watchlist(app: Flask, args: argparse.Namespace) -> None:
    from registration.services.watchlist import entries, match_delegates, rematch_all

    rng = random.Random(15)
    with app.app_context():
        started = time.perf_counter()
        people = populate_delegates(args.delegates, rng)
        data, planted = watchlist_csv(args.entries, people, rng)
        print(f"setup: {len(people)} delegates with identity data, a {len(data) // 1024} KB "
              f"watchlist of {args.entries} entries ({time.perf_counter() - started:.1f}s)")

        started = time.perf_counter()
        report = entries.import_watchlist(data, "bench.csv", None, actor="bench")
        took = time.perf_counter() - started
        assert report.ok, report.summary()
        found = set(db.session.scalars(sa.select(WatchlistHit.delegate_id)))
        missed = planted - found
        print(f"watchlist import (read, validate, encrypt, store, match everyone): "
              f"{report.imported} entries x {len(people)} delegates in {took:.2f}s "
              f"{'OK' if took < 10 else 'OVER'} (target < 10 s)")
        print(f"  hits: {report.hits}; planted {len(planted)}, found {len(planted & found)}, "
              f"missed {len(missed)}; unplanted hits {len(found - planted)}")

        db.session.execute(sa.delete(WatchlistHit))
        db.session.commit()
        started = time.perf_counter()
        again = rematch_all(actor="bench")
        took = time.perf_counter() - started
        print(f"matching alone (rematch_all): {args.entries} entries x {len(people)} "
              f"delegates in {took:.2f}s, {again} hits "
              f"{'OK' if took < 10 else 'OVER'} (target < 10 s)")

        sample = [p["delegate_id"] for p in people[1000:1200]]
        from registration.editions import edition_scope, marked_current

        edition = marked_current()
        assert edition is not None
        started = time.perf_counter()
        with edition_scope(edition):  # as the commit hook runs it
            for delegate_id in sample:
                match_delegates([delegate_id])
        per = (time.perf_counter() - started) / len(sample) * 1000
        db.session.rollback()
        print(f"one registration's matching (commit hook): {per:.2f} ms per delegate "
              f"(mean of {len(sample)})")
        if missed:
            raise SystemExit(f"planted matches not found: {sorted(missed)}")


PARTS: dict[str, Callable[[Flask, argparse.Namespace], None]] = {
    "watchlist": bench_watchlist,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--part", choices=[*PARTS, "all"], default="all")
    parser.add_argument("--delegates", type=int, default=5_000)
    parser.add_argument("--entries", type=int, default=10_000)
    args = parser.parse_args()
    for name, run in PARTS.items():
        if args.part not in (name, "all"):
            continue
        tmp = Path(tempfile.mkdtemp(prefix=f"bench-vetting-{name}-"))
        url = args.database_url or f"sqlite:///{tmp / 'vetting.sqlite3'}"
        if url.startswith("postgresql"):
            ensure_postgres_database(url)
            fresh_database(url)
        app = create_app({
            "APP_ENV": "testing", "TESTING": False, "SECRET_KEY": "bench-" + "x" * 40,
            "SQLALCHEMY_DATABASE_URI": url, "INSTANCE_DIR": str(tmp),
            "WTF_CSRF_ENABLED": False, "MAIL_BACKGROUND": False,
        })
        from flask_migrate import upgrade

        with app.app_context():
            upgrade()
            print(f"== {name} ({db.engine.dialect.name})")
        run(app, args)
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
