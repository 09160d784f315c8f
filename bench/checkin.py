"""Check-in benchmark: ``python bench/checkin.py [--database-url URL]`` from the repo root.

Against two gunicorn instances (one worker each by default, gunicorn.conf.py: gthread; each
with its own INSTANCE_PATH, scanners split between them), a Celery worker on Redis, and
PostgreSQL:

1. empties and migrates the database (`flask db upgrade`), seeds N accredited delegates
   with real badge tokens and issues a device token;
2. 50 concurrent scanners on loopback (threads, one keep-alive HTTP connection each) POST
   /api/v1/checkins with the device token, each at a steady pace (open loop: `--rate` scans
   per second per scanner, so the offered load is scanners x rate), for `--duration`
   seconds. Mix: first scans of fresh badges, repeats of badges already seen (including
   the same badge from several scanners at once), invalid codes, and re-sent nonces;
3. prints decided scans per second, p50/p99 latency, errors, the statuses, and checks in the
   database that nobody was checked in twice (count(*) vs count(distinct) on check_in) and
   that every nonce was recorded once.

Little's law ties the figures together: with 50 scanners each waiting for its answer, a
closed loop (`--closed`: send the next scan as soon as the answer comes) measures the
maximum rate, and its latency is then queueing time (50 / rate), not service time.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import logging
import os
import random
import secrets
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench._server import (
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
)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test_checkin"
CATEGORIES = ["government", "expert", "scholar", "ngo"]


def seed(env: dict[str, str], n: int) -> tuple[list[str], str]:
    """N accredited delegates (badge printed) and a device; returns their codes + token."""
    for key in ("DATABASE_URL", "APP_ENV", "SECRET_KEY", "INSTANCE_PATH",
                "BADGE_SIGNING_KEY", "SESSION_COOKIE_SECURE", "PUBLIC_BASE_URL",
                "DATA_ENCRYPTION_KEY"):
        os.environ[key] = env[key]
    from registration import badge_token, create_app
    from registration.extensions import db
    from registration.models import Delegate
    from registration.services import devices
    from registration.services.badge_signing import signing_key

    app = create_app()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # create_app logs at INFO
    with app.app_context():
        rows = []
        for i in range(n):
            rows.append({
                "public_id": uuid.uuid4(), "reference": f"GPS-B{i:06d}",
                "category": CATEGORIES[i % 4], "status": "badge_printed", "source": "import",
                "honorific": "", "given_name": f"Given{i}", "family_name": "Bench",
                "native_name": "王小明" if i % 3 == 0 else "", "badge_name": "",
                "organisation": "Bench Org", "position": "", "country": "CN",
                "email": f"b{i}@bench.test", "email_key": f"b{i}@bench.test", "phone": "",
                "dietary_needs": "", "accessibility_needs": "",
                "details": {"head_of_delegation": i % 50 == 0}, "locale": "en",
                "search_text": "", "badge_serial": 1, "print_count": 1,
                "needs_reprint": False,
            })
        db.session.execute(sa.insert(Delegate), rows)
        db.session.commit()
        key = signing_key()
        codes = [badge_token.issue(key, r["public_id"], 1) for r in rows]
        _, token = devices.issue("bench-device")
        db.engine.dispose()
    return codes, token


class Workload:
    """Hands out the next scan: fresh badges, repeats, invalid codes, re-sent nonces."""

    def __init__(self, codes: list[str], seed_value: int = 7) -> None:
        self.codes = codes
        self.fresh = iter(codes)
        self.lock = threading.Lock()
        self.rng = random.Random(seed_value)
        self.seen: list[str] = []
        self.sent_nonces: list[tuple[str, str]] = []

    def next(self) -> tuple[str, str, str]:
        with self.lock:
            roll = self.rng.random()
            if roll < 0.03 and self.sent_nonces:
                code, nonce = self.rng.choice(self.sent_nonces)
                return code, nonce, "resent"
            if roll < 0.13:
                kind = "invalid"
                code = self.rng.choice([
                    "HTTPS://EXAMPLE.ORG/NOT-A-BADGE",
                    "GP1" + "A" * 133,
                    self.rng.choice(self.codes)[:-2] + "AA",
                ])
            elif roll < 0.35 and self.seen:
                kind, code = "repeat", self.rng.choice(self.seen[-200:])
            else:
                code = next(self.fresh, None)
                if code is None:
                    kind, code = "repeat", self.rng.choice(self.codes)
                else:
                    kind = "first"
                    self.seen.append(code)
            nonce = uuid.uuid4().hex
            if len(self.sent_nonces) < 5000:
                self.sent_nonces.append((code, nonce))
            return code, nonce, kind


def run_load(bases: list[str], token: str, workload: Workload, scanners: int, rate: float,
             duration: float, closed: bool) -> dict:
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    lock = threading.Lock()
    start_gate = threading.Barrier(scanners + 1)
    stop_at = [0.0]

    def scanner(index: int) -> None:
        host, port = bases[index % len(bases)].removeprefix("http://").split(":")
        # The stdlib client on a keep-alive connection: a third of httpx's CPU per request,
        # which leaves more of this 2-core box to the server being measured.
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        rng = random.Random(index)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        start_gate.wait()
        interval = 1.0 / rate
        next_at = time.perf_counter() + rng.random() * interval  # spread the phases
        while True:
            if not closed:
                delay = next_at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                next_at += interval
            if time.perf_counter() >= stop_at[0]:
                conn.close()
                return
            code, nonce, _kind = workload.next()
            body = json.dumps({"code": code, "checkpoint": "main", "nonce": nonce})
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/checkins", body, headers)
                response = conn.getresponse()
                payload = response.read()
                elapsed = time.perf_counter() - t0
                if response.status == 200:
                    status = json.loads(payload)["status"]
                    with lock:
                        latencies.append(elapsed)
                        statuses[status] += 1
                else:
                    with lock:
                        errors[f"http {response.status}"] += 1
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
                with lock:
                    errors[type(exc).__name__] += 1

    threads = [threading.Thread(target=scanner, args=(i,), daemon=True)
               for i in range(scanners)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + duration + 0.05
    servers = [pid for base in bases for pid in gunicorn_pids(base.rsplit(":", 1)[1])]
    start_gate.wait()
    began = time.perf_counter()
    cpu0, server0, (busy0, all0) = time.process_time(), proc_cpu(servers), machine_busy()
    postgres = postgres_pids()
    pg0 = proc_cpu(postgres)
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    busy1, all1 = machine_busy()
    return {"latencies": latencies, "statuses": statuses, "errors": errors, "wall": wall,
            "client_cpu": time.process_time() - cpu0,
            "server_cpu": proc_cpu(servers) - server0,
            "postgres_cpu": proc_cpu(postgres_pids()) - pg0,
            "machine_busy": (busy1 - busy0) / max(all1 - all0, 1)}


def verify(database_url: str) -> dict:
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        total, distinct = conn.execute(sa.text(
            "SELECT count(*), count(DISTINCT (delegate_id, checkpoint_id)) FROM check_in"
        )).one()
        scans, nonces = conn.execute(sa.text(
            "SELECT count(*), count(DISTINCT nonce) FROM scan")).one()
        checked_in = conn.scalar(sa.text(
            "SELECT count(*) FROM delegate WHERE status = 'checked_in'"))
    engine.dispose()
    return {"check_in rows": total, "distinct (delegate, checkpoint)": distinct,
            "double check-ins": total - distinct, "scan rows": scans,
            "distinct nonces": nonces, "delegates checked_in": checked_in}


def report(label: str, result: dict, scanners: int) -> None:
    lat = [x * 1000 for x in result["latencies"]]
    decided = len(lat)
    print(f"\n== {label}")
    print(f"scanners                 {scanners}")
    print(f"wall time                {result['wall']:.2f} s")
    print(f"decided scans            {decided}")
    print(f"decided scans/second     {decided / result['wall']:.0f}")
    print(f"latency p50 / p90 / p99  {percentile(lat, 50):.1f} / {percentile(lat, 90):.1f} / "
          f"{percentile(lat, 99):.1f} ms (max {max(lat, default=float('nan')):.1f} ms)")
    per = 1000 / max(decided, 1)
    print(f"gunicorn CPU             {result['server_cpu'] / result['wall'] * 100:.0f}% of a core "
          f"({result['server_cpu'] * per:.2f} ms per scan)")
    print(f"PostgreSQL CPU           {result['postgres_cpu'] / result['wall'] * 100:.0f}% of a "
          f"core ({result['postgres_cpu'] * per:.2f} ms per scan)")
    print(f"load generator CPU       {result['client_cpu'] / result['wall'] * 100:.0f}% of a core "
          f"({result['client_cpu'] * per:.2f} ms per scan)")
    print(f"machine CPU busy         {result['machine_busy'] * 100:.0f}% of "
          f"{os.cpu_count()} cores (everything running on the box)")
    print(f"errors                   {sum(result['errors'].values())} "
          f"{dict(result['errors']) or ''}")
    print("statuses                 " + ", ".join(
        f"{k} {v}" for k, v in sorted(result["statuses"].items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help="PostgreSQL database the bench owns (it is emptied).")
    parser.add_argument("--delegates", type=int, default=5000)
    parser.add_argument("--scanners", type=int, default=50)
    parser.add_argument("--rates", default="4,8",
                        help="Comma-separated scans per second per scanner, one open-loop "
                             "run each (offered load = scanners x rate).")
    parser.add_argument("--duration", type=float, default=10.0, help="Seconds per run.")
    parser.add_argument("--instances", type=int, default=2, help="gunicorn instances.")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers per instance.")
    parser.add_argument("--threads", type=int, default=None,
                        help="gunicorn threads per worker (default: gunicorn.conf.py's).")
    parser.add_argument("--closed", action="store_true",
                        help="Also run a closed loop (max rate; latency = queueing).")
    args = parser.parse_args()

    ensure_postgres_database(args.database_url)
    fresh_database(args.database_url)
    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption())
    with tempfile.TemporaryDirectory(prefix="bench-checkin-") as instance:
        env = app_env(args.database_url, Path(instance),
                      BADGE_SIGNING_KEY=base64.b64encode(key).decode(),
                      SECRET_KEY=secrets.token_hex(32),
                      PUBLIC_BASE_URL="http://127.0.0.1", REDIS_URL=fresh_redis(),
                      # The bench's 50 scanners share ONE device token; at a door each phone
                      # has its own, and RATELIMIT_API (50/s) is per token. Measure the
                      # server, not the limiter.
                      RATELIMIT_API="100000 per second")
        if args.threads:
            env["GUNICORN_THREADS"] = str(args.threads)
        migrate(env)
        t0 = time.perf_counter()
        codes, token = seed(env, args.delegates)
        print(f"seeded {len(codes)} delegates and a device token in "
              f"{time.perf_counter() - t0:.1f} s")
        workload = Workload(codes)
        with gunicorns(env, args.instances, args.workers) as bases, celery_worker(env):
            print(f"{args.instances} gunicorn instances x {args.workers} worker(s), "
                  "a Celery worker, Redis, PostgreSQL")
            # Warm up every worker (imports, connection pools, key loading).
            for base in bases:
                warm = httpx.Client(base_url=base,
                                    headers={"Authorization": f"Bearer {token}"})
                for _ in range(40):
                    warm.get("/api/v1/checkin-snapshot")
                warm.close()
            for rate in (float(r) for r in args.rates.split(",") if r.strip()):
                open_loop = run_load(bases, token, workload, args.scanners, rate,
                                     args.duration, closed=False)
                report(f"open loop: {args.scanners} scanners x {rate:g} scans/s offered "
                       f"= {args.scanners * rate:.0f}/s for {args.duration:g} s",
                       open_loop, args.scanners)
            if args.closed:
                closed = run_load(bases, token, workload, args.scanners, 1.0,
                                  args.duration, closed=True)
                report(f"closed loop: {args.scanners} scanners, next scan as soon as "
                       "answered", closed, args.scanners)
    print("\n== database after the runs")
    for key_, value in verify(args.database_url).items():
        print(f"{key_:<32} {value}")


if __name__ == "__main__":
    main()
