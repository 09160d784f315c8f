"""Desk search latency with 10,000 delegates, on SQLite or PostgreSQL.

Creates a fresh schema in the given database (its public schema is DROPPED on PostgreSQL:
give it a database the bench may own), bulk-inserts delegates with names in several
scripts, some printed and some checked in, signs a desk user in through the test client
and times /staff/delegates for a set of searches and filters (whole request: filter parsing,
the counts GROUP BY, the page query, rendering). Prints p50/p99 per query.

    python bench/desk.py                       # a temporary SQLite file
    python bench/desk.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test_desk
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
# The project first: bench/badges.py must not shadow the `badges` package. The bench folder
# (for _server) is on the path already as the script's own folder.
sys.path.insert(0, str(ROOT))
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))

from _server import ensure_postgres_database, fresh_database, percentile  # noqa: E402

from registration import create_app  # noqa: E402
from registration.extensions import db  # noqa: E402
from registration.models import CheckIn, Delegate, Scan, StaffUser  # noqa: E402
from registration.text import REFERENCE_ALPHABET, search_key  # noqa: E402

PEOPLE = [
    ("Xiaoming", "Wang", "王小明", "CN"), ("Wei", "Zhang", "张伟", "CN"),
    ("Jürgen", "Müller", "", "DE"), ("Maria", "Ivanova", "Мария Иванова", "RU"),
    ("Mohammed", "Al-Rashid", "محمد الراشد", "SA"), ("José", "Núñez García", "", "MX"),
    ("Hiroshi", "Tanaka", "田中宏", "JP"), ("Ji-woo", "Kim", "김지우", "KR"),
    ("Søren", "Kierkegaard", "", "DK"), ("Anaïs", "Lefèvre", "", "FR"),
    ("Priya", "Sharma", "प्रिया शर्मा", "IN"), ("Amina", "Diallo", "", "SN"),
]
ORGS = ["Ministry of Public Security", "Bundeskriminalamt", "Interpol", "Red Cross",
        "Peking University", "Université de Genève", "Europol", "UNODC"]
CATEGORIES = ["government", "expert", "scholar", "ngo"]
STATUSES = ["submitted"] * 3 + ["approved"] * 4 + ["badge_printed"] * 2 + ["rejected"]

QUERIES = [
    ("all, first page", ""),
    ("Latin surname", "q=wang"),
    ("accent-folded", "q=muller"),
    ("CJK", "q=王"),
    ("Cyrillic", "q=иванова"),
    ("two words", "q=maria+ivanova"),
    ("email", "q=person123%40example.org"),
    ("reference", "q={reference}"),
    ("organisation", "q=interpol"),
    ("no match", "q=zzzzqqq"),
    ("category+status", "category=expert&status=approved"),
    ("country", "country=DE"),
    ("printed=no", "printed=no&status=approved"),
    ("checked_in=yes", "checked_in=yes"),
    ("search+filters", "q=wang&category=government&printed=yes&sort=created"),
    ("page 100", "page=100"),
    ("sort country p50", "sort=country&page=50"),
]


def reference(i: int) -> str:
    chars, n = [], i
    for _ in range(8):
        chars.append(REFERENCE_ALPHABET[n % len(REFERENCE_ALPHABET)])
        n //= len(REFERENCE_ALPHABET)
    s = "".join(chars)
    return f"GPS-{s[:4]}-{s[4:]}"


def populate(count: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    rows = []
    for i in range(count):
        given, family, native, country = PEOPLE[i % len(PEOPLE)]
        category = CATEGORIES[i % 4]
        status = rng.choice(STATUSES)
        email = f"person{i}@example.org"
        org = ORGS[i % len(ORGS)]
        ref = reference(i * 7919 + 13)
        printed = status == "badge_printed"
        rows.append({
            "public_id": uuid.uuid4(), "reference": ref, "category": category,
            "status": status, "source": "self", "honorific": "Dr.", "given_name": given,
            "family_name": f"{family}{'' if i < 12 else i % 97}", "native_name": native,
            "badge_name": f"{given} {family}", "organisation": org, "position": "Officer",
            "country": country, "email": email, "email_key": email, "phone": "+8613800138000",
            "dietary_needs": "", "accessibility_needs": "", "details": {}, "locale": "en",
            "consent_at": now, "badge_serial": 1, "print_count": 1 if printed else 0,
            "printed_at": now if printed else None, "needs_reprint": False,
            "created_at": now - timedelta(seconds=count - i), "updated_at": now,
            "search_text": search_key(" ".join([given, family, native, f"{given} {family}",
                                                org, email, ref])),
        })
    for start in range(0, count, 2000):
        db.session.execute(sa.insert(Delegate), rows[start:start + 2000])
    db.session.commit()
    # Check in a fifth of the printed ones at the main entrance.
    printed_ids = list(db.session.scalars(
        sa.select(Delegate.id).where(Delegate.printed_at.is_not(None)).order_by(Delegate.id)
    ))[::5]
    scans = [{"nonce": f"bench-{d}", "checkpoint_id": "main", "delegate_id": d,
              "result": "checked_in", "scanned_at": now, "received_at": now,
              "offline": False} for d in printed_ids]
    db.session.execute(sa.insert(Scan), scans)
    scan_ids = dict(db.session.execute(sa.select(Scan.delegate_id, Scan.id)).all())
    db.session.execute(sa.insert(CheckIn), [
        {"delegate_id": d, "checkpoint_id": "main", "scan_id": scan_ids[d], "checked_in_at": now}
        for d in printed_ids
    ])
    db.session.commit()
    return rows[4321 % count]["reference"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-desk-"))
    url = args.database_url or f"sqlite:///{tmp / 'desk.sqlite3'}"
    if url.startswith("postgresql"):
        ensure_postgres_database(url)
        fresh_database(url)
    app = create_app({
        "APP_ENV": "testing", "TESTING": False, "SECRET_KEY": "bench-" + "x" * 40,
        "SQLALCHEMY_DATABASE_URI": url, "INSTANCE_DIR": str(tmp), "WTF_CSRF_ENABLED": False,
        "MAIL_BACKGROUND": False,
    })
    from flask_migrate import upgrade

    t0 = time.perf_counter()
    with app.app_context():
        upgrade()
        insert_start = time.perf_counter()
        ref = populate(args.count)
        inserted = time.perf_counter() - insert_start
        staff = StaffUser(email="bench@forum.local", role="desk", active=True,
                          session_version=0, failed_logins=0, password_hash="-")
        db.session.add(staff)
        db.session.commit()
        identity = staff.get_id()
        total = db.session.scalar(sa.select(sa.func.count(Delegate.id)))
        dialect = db.engine.dialect.name
        db.session.remove()
    print(f"{dialect}: {total} delegates inserted in {inserted:.1f}s "
          f"(setup {time.perf_counter() - t0:.1f}s), {args.repeat} requests per query")

    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = identity
    count_re = re.compile(r"([\d,]+) delegates?<|([\d,]+) delegates? ·")
    print(f"{'query':<20} {'results':>7} {'p50 ms':>8} {'p99 ms':>8}  path")
    for label, query in QUERIES:
        path = "/staff/delegates" + ("?" + query.format(reference=ref) if query else "")
        for _ in range(3):  # warm caches
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - start)
        html = response.get_data(as_text=True)
        match = count_re.search(html)
        results = (match.group(1) or match.group(2)) if match else "?"
        print(f"{label:<20} {results:>7} {percentile(times, 50) * 1000:8.1f} "
              f"{percentile(times, 99) * 1000:8.1f}  {path}")


if __name__ == "__main__":
    main()
