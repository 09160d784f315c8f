"""Self-registration under load: 50 concurrent browsers against gunicorn + PostgreSQL.

Each simulated browser keeps its own cookies, loads /register (the form and its CSRF token)
and submits a registration, again and again, until the total is reached. Prints completed
registrations per second, latency percentiles per request kind, errors, and checks that
the number of stored delegates equals the number of successes.

    .venv/bin/python bench/register.py [--database-url URL] [--total 3000] [--browsers 50]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import (  # noqa: E402
    app_env,
    ensure_postgres_database,
    fresh_database,
    gunicorn,
    migrate,
    percentile,
)

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
NAMES = [("Xiaoming", "Wang", "王小明", "CN", "+86 138 0013 8000"),
         ("Maria", "Ivanova", "Мария Иванова", "RU", "+7 912 345 67 89"),
         ("Mohammed", "Al-Rashid", "محمد الراشد", "SA", "+966 50 123 4567"),
         ("José", "Núñez García", "", "MX", "+52 55 1234 5678")]
CATEGORIES = {
    "government": {"ministry": "Ministry of Public Security", "head_of_delegation": "y"},
    "expert": {"expertise": ["cybersecurity"]},
    "scholar": {"institution": "Peking University"},
    "ngo": {"focus": "Disaster relief"},
}


async def browser(n: int, base: str, quota: asyncio.Queue, results: dict) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while True:
            try:
                i = quota.get_nowait()
            except asyncio.QueueEmpty:
                return
            given, family, native, country, phone = NAMES[i % len(NAMES)]
            category = list(CATEGORIES)[i % 4]
            t0 = time.perf_counter()
            page = await client.get("/register")
            t1 = time.perf_counter()
            results["get"].append(t1 - t0)
            match = CSRF.search(page.text) if page.status_code == 200 else None
            if not match:
                results["errors"].append(f"GET {page.status_code}")
                continue
            data = {"csrf_token": match.group(1), "category": category, "honorific": "Dr.",
                    "given_name": given, "family_name": family, "native_name": native,
                    "organisation": "Bench Org", "position": "Delegate", "country": country,
                    "email": f"bench{i}@example.org", "phone": phone, "consent": "y",
                    **CATEGORIES[category]}
            t2 = time.perf_counter()
            response = await client.post("/register", data=data)
            t3 = time.perf_counter()
            results["post"].append(t3 - t2)
            if response.status_code == 303:
                results["ok"] += 1
            else:
                results["errors"].append(f"POST {response.status_code}")


async def run(base: str, total: int, browsers: int) -> tuple[dict, float]:
    quota: asyncio.Queue = asyncio.Queue()
    for i in range(total):
        quota.put_nowait(i)
    results: dict = {"get": [], "post": [], "ok": 0, "errors": []}
    start = time.perf_counter()
    await asyncio.gather(*(browser(n, base, quota, results) for n in range(browsers)))
    return results, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url",
                        default="postgresql+psycopg://postgres@127.0.0.1:5432/bench_register")
    parser.add_argument("--total", type=int, default=3000)
    parser.add_argument("--browsers", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    ensure_postgres_database(args.database_url)
    fresh_database(args.database_url)
    with tempfile.TemporaryDirectory() as instance:
        env = app_env(args.database_url, Path(instance))
        migrate(env)
        with gunicorn(env, workers=args.workers) as base:
            asyncio.run(run(base, 100, 10))  # warm up both workers
            engine = sa.create_engine(args.database_url)
            with engine.begin() as conn:
                conn.execute(sa.text("DELETE FROM outbox_message"))
                conn.execute(sa.text("DELETE FROM audit_entry"))
                conn.execute(sa.text("DELETE FROM delegate"))
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            results, elapsed = asyncio.run(run(base, args.total, args.browsers))
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            with engine.connect() as conn:
                stored = conn.scalar(sa.text("SELECT count(*) FROM delegate"))
            engine.dispose()

    ms = 1000
    both = [g + p for g, p in zip(results["get"], results["post"], strict=False)]
    print(f"gunicorn workers={args.workers}  browsers={args.browsers}  "
          f"registrations attempted={args.total}  database=PostgreSQL")
    print(f"completed registrations: {results['ok']} in {elapsed:.2f} s "
          f"= {results['ok'] / elapsed:.1f} per second")
    for name, values in (("GET /register", results["get"]), ("POST /register", results["post"]),
                         ("GET+POST", both)):
        print(f"{name:16} p50 {percentile(values, 50) * ms:7.1f} ms   "
              f"p99 {percentile(values, 99) * ms:7.1f} ms   max {max(values) * ms:7.1f} ms")
    client_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    print(f"load generator CPU: {client_cpu:.1f} s of {elapsed:.1f} s wall "
          f"(it shares the machine's cores with gunicorn and PostgreSQL)")
    print(f"error responses: {len(results['errors'])} {sorted(set(results['errors']))[:5]}")
    print(f"rows in delegate: {stored}  (successes: {results['ok']}) -> "
          f"{'OK' if stored == results['ok'] else 'MISMATCH'}")


if __name__ == "__main__":
    main()
