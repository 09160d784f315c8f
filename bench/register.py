"""Self-registration under load: 50 concurrent browsers against gunicorn + PostgreSQL.

Each simulated browser (a thread with its own keep-alive connection and session cookie)
loads /register, takes the CSRF token from the form and submits a registration, again and
again until the total is reached. Prints completed registrations per second, latency
percentiles per request kind, CPU used by gunicorn / PostgreSQL / the load generator,
errors, and checks that the stored delegates equal the successes.

By default: two gunicorn instances (one worker each, their own INSTANCE_PATH; browsers
split between them), Redis and a Celery worker delivering the confirmation mail while the
registrations arrive (each request that queued mail sends the deliver_mail task), as in
production; the bench reports how long after the last registration the outbox was empty.
The worker runs at the priority production gives it (`Nice=` and `CPUSchedulingPolicy=` of
deploy/forum-worker.service; `--worker-nice N` and `--worker-policy normal|idle` to try
others): under the rush it yields the CPU to the web servers, and the confirmations wait in
the outbox a little longer.
`--embedded` runs without Redis: each web process delivers on its own task pool.

    .venv/bin/python bench/register.py [--database-url URL] [--total 3000] [--browsers 50]
                                       [--identity]

`--identity`: the edition asks every category for identity data (`editions settings
--identity all`) and each registration sends it (nationality, date of birth, passport
number and expiry: three values encrypted with AES-GCM and one keyed hash per delegate).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import (
    ROOT,
    app_env,
    celery_worker,
    ensure_postgres_database,
    fresh_database,
    fresh_redis,
    gunicorn_pids,
    gunicorns,
    machine_busy,
    migrate,
    percentile,
    postgres_pids,
    proc_cpu,
    process_tree,
    unit_niceness,
    unit_runs_idle,
)

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
NAMES = [("Xiaoming", "Wang", "王小明", "CN", "+86 138 0013 8000"),
         ("Maria", "Ivanova", "Мария Иванова", "RU", "+7 912 345 67 89"),
         ("Mohammed", "Al-Rashid", "محمد الراشد", "SA", "+966 50 123 4567"),
         ("José", "Núñez García", "", "MX", "+52 55 1234 5678")]
CATEGORIES = {
    "government": {"ministry": "Ministry of Public Security", "head_of_delegation": "y"},
    "expert": {"expertise": "cybersecurity"},
    "scholar": {"institution": "Peking University"},
    "ngo": {"focus": "Disaster relief"},
}


def identity_fields(i: int, country: str) -> dict[str, str]:
    """What a delegate asked for identity data sends (a different number each)."""
    return {"nationality": country, "date_of_birth": f"{1950 + i % 50}-0{1 + i % 9}-1{i % 10}",
            "document_type": "passport", "document_number": f"P{i:08d}",
            "document_country": country, "document_expiry": "2031-06-30"}


class Browser:
    """One visitor: a keep-alive connection and the session cookie the site gave it."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        self.cookie = ""

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                text = response.read().decode()
                break
            except (OSError, http.client.HTTPException):
                self.conn.close()  # the server closed an idle keep-alive connection
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt == 2:
                    raise
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, text


def run(bases: list[str], first: int, total: int, browsers: int, identity: bool = False
        ) -> tuple[dict, float]:
    counter = iter(range(first, first + total))
    lock = threading.Lock()
    results: dict = {"get": [], "post": [], "ok": 0, "errors": []}

    def visitor(index: int) -> None:
        browser = Browser(bases[index % len(bases)])
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            given, family, native, country, phone = NAMES[i % len(NAMES)]
            category = list(CATEGORIES)[i % 4]
            t0 = time.perf_counter()
            status, page = browser.request("GET", "/register")
            t1 = time.perf_counter()
            match = CSRF.search(page) if status == 200 else None
            if not match:
                with lock:
                    results["errors"].append(f"GET {status}")
                continue
            body = urlencode({
                "csrf_token": match.group(1), "category": category, "honorific": "Dr.",
                "given_name": given, "family_name": family, "native_name": native,
                "organisation": "Bench Org", "position": "Delegate", "country": country,
                "email": f"bench{i}@example.org", "phone": phone, "consent": "y",
                **CATEGORIES[category], **(identity_fields(i, country) if identity else {})})
            t2 = time.perf_counter()
            status, _ = browser.request("POST", "/register", body)
            t3 = time.perf_counter()
            with lock:
                results["get"].append(t1 - t0)
                results["post"].append(t3 - t2)
                if status == 303:
                    results["ok"] += 1
                else:
                    results["errors"].append(f"POST {status}")

    threads = [threading.Thread(target=visitor, args=(i,)) for i in range(browsers)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url",
                        default="postgresql+psycopg://postgres@127.0.0.1:5432/bench_register")
    parser.add_argument("--total", type=int, default=3000)
    parser.add_argument("--browsers", type=int, default=50)
    parser.add_argument("--instances", type=int, default=2, help="gunicorn instances")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers each")
    parser.add_argument("--embedded", action="store_true",
                        help="no Redis: each web process delivers mail on its own pool")
    parser.add_argument("--worker-nice", type=int, default=None,
                        help="the Celery worker's niceness (default: Nice= of "
                             "deploy/forum-worker.service)")
    parser.add_argument("--worker-policy", choices=["normal", "idle"], default=None,
                        help="the Celery worker's scheduling policy (default: "
                             "CPUSchedulingPolicy= of deploy/forum-worker.service)")
    parser.add_argument("--identity", action="store_true",
                        help="every category gives identity data (encrypted at rest)")
    args = parser.parse_args()

    worker_idle = (unit_runs_idle("forum-worker.service") if args.worker_policy is None
                   else args.worker_policy == "idle")
    ensure_postgres_database(args.database_url)
    fresh_database(args.database_url)
    with tempfile.TemporaryDirectory() as instance:
        extra = {} if args.embedded else {"REDIS_URL": fresh_redis()}
        # Every bench browser comes from 127.0.0.1: the per-address registration limit
        # (RATELIMIT_REGISTRATION, 5 a minute) would answer 429 to all but five. Measure the
        # server, not the limiter.
        extra["RATELIMIT_REGISTRATION"] = "1000000 per minute"
        env = app_env(args.database_url, Path(instance), **extra)
        migrate(env)
        if args.identity:
            subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "editions",
                            "settings", "--identity", "all"], cwd=ROOT, env=env, check=True,
                           capture_output=True)
        with contextlib.ExitStack() as stack:
            bases = stack.enter_context(gunicorns(env, args.instances, args.workers))
            worker = None
            if not args.embedded:
                worker = stack.enter_context(celery_worker(
                    env, niceness=args.worker_nice, idle=worker_idle))
            run(bases, 10_000_000, 200, 10, args.identity)  # warm up every worker
            engine = sa.create_engine(args.database_url)
            with engine.begin() as conn:
                for table in ("outbox_message", "audit_entry", "delegate_identity", "delegate"):
                    conn.execute(sa.text(f"DELETE FROM {table}"))
            servers = [pid for base in bases for pid in gunicorn_pids(base.rsplit(":", 1)[1])]
            postgres = postgres_pids()
            workers = process_tree(worker.pid) if worker is not None else []
            worker0 = proc_cpu(workers)
            cpu0, server0, pg0 = time.process_time(), proc_cpu(servers), proc_cpu(postgres)
            busy0, all0 = machine_busy()
            results, elapsed = run(bases, 0, args.total, args.browsers, args.identity)
            busy1, all1 = machine_busy()
            client_cpu = time.process_time() - cpu0
            server_cpu, pg_cpu = proc_cpu(servers) - server0, proc_cpu(postgres_pids()) - pg0
            with engine.connect() as conn:
                sent_at_end = conn.scalar(sa.text(
                    "SELECT count(*) FROM outbox_message WHERE status = 'sent'"))
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < 120:  # the worker finishes the outbox
                with engine.connect() as conn:
                    pending = conn.scalar(sa.text(
                        "SELECT count(*) FROM outbox_message WHERE status = 'pending'"))
                if not pending:
                    break
                time.sleep(0.2)
            drain = time.perf_counter() - t0
            worker_cpu = proc_cpu(workers) - worker0
        with engine.connect() as conn:
            stored = conn.scalar(sa.text("SELECT count(*) FROM delegate"))
            queued = conn.scalar(sa.text("SELECT count(*) FROM outbox_message"))
            sent = conn.scalar(sa.text(
                "SELECT count(*) FROM outbox_message WHERE status = 'sent'"))
            twice = conn.scalar(sa.text(
                "SELECT count(*) - count(DISTINCT delegate_id) FROM outbox_message"))
            identities = conn.scalar(sa.text("SELECT count(*) FROM delegate_identity"))
        engine.dispose()

    ok, ms = results["ok"], 1000
    nice = unit_niceness("forum-worker.service") if args.worker_nice is None else args.worker_nice
    worker_label = (f"Redis + a Celery worker (nice {nice}"
                    f"{', idle policy' if worker_idle else ''})")
    both = [g + p for g, p in zip(results["get"], results["post"], strict=True)]
    print(f"{args.instances} gunicorn instances x {args.workers} worker(s) (gthread), "
          f"{'embedded task pools' if args.embedded else worker_label}  "
          f"{'identity data: every category' if args.identity else 'no identity data'}  "
          f"browsers={args.browsers}  registrations attempted={args.total}  "
          "database=PostgreSQL")
    print(f"completed registrations: {ok} in {elapsed:.2f} s = {ok / elapsed:.1f} per second")
    for name, values in (("GET /register", results["get"]), ("POST /register", results["post"]),
                         ("GET+POST", both)):
        print(f"{name:16} p50 {percentile(values, 50) * ms:7.1f} ms   "
              f"p99 {percentile(values, 99) * ms:7.1f} ms   max {max(values) * ms:7.1f} ms")
    print(f"CPU per registration: gunicorn {server_cpu / ok * ms:.2f} ms, PostgreSQL "
          f"{pg_cpu / ok * ms:.2f} ms, load generator {client_cpu / ok * ms:.2f} ms, Celery "
          f"worker {worker_cpu / ok * ms:.2f} ms (until the outbox was empty); "
          f"machine busy {(busy1 - busy0) / max(all1 - all0, 1) * 100:.0f}% of "
          f"2 cores")
    print(f"error responses: {len(results['errors'])} {sorted(set(results['errors']))[:5]}")
    print(f"rows in delegate: {stored}  (successes: {ok}) -> "
          f"{'OK' if stored == ok else 'MISMATCH'}; confirmation mails queued: {queued}")
    if args.identity:
        print(f"rows in delegate_identity: {identities} -> "
              f"{'OK' if identities == ok else 'MISMATCH'}")
    print(f"mail: {sent_at_end} sent while registering; outbox empty {drain:.1f} s after the "
          f"last registration: {sent} of {queued} sent, {queued - sent} not sent, "
          f"{twice} duplicates (written as .eml: no MAIL_SERVER set)")


if __name__ == "__main__":
    main()
