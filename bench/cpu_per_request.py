"""CPU per request, in one process, without the noise of a shared machine's wall clock.

Drives N requests through the app's WSGI callable (Flask's test client, no network, no
gunicorn) against PostgreSQL and prints the process CPU time per request for the two hot
flows: GET + POST /register (a fresh visitor each time) and POST /api/v1/checkins from a
scanner device (the bench's mix of first scans, repeats and invalid codes); and the mail
worker's share of a registration: one run of the deliver_mail task over the confirmations
those registrations queued, per message (written as .eml, as the bench's worker does). The
PostgreSQL backends' CPU is read from /proc as in the other benches. `--identity`: every
category gives identity data (as bench/register.py). `--profile` prints cProfile's top
functions by cumulative time for each flow.

    .venv/bin/python bench/cpu_per_request.py [--database-url URL] [-n 400] [--profile]
                                              [--only register|mail|checkin] [--identity]
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import json
import logging
import os
import pstats
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench._server import (
    app_env,
    ensure_postgres_database,
    fresh_database,
    fresh_redis,
    migrate,
    proc_cpu,
)
from bench.register import identity_fields

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
REDIS_URL = "redis://127.0.0.1:6379/13"


def own_backends(database_url: str) -> list[int]:
    """The PostgreSQL backends serving this database (not other people's on a shared box)."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        pids = list(conn.scalars(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()")))
    engine.dispose()
    return pids


def print_profile(profiler: cProfile.Profile) -> None:
    """The top functions (SORT, FILTER and TOP from the environment)."""
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("SORT", "cumulative")) \
        .print_stats(os.environ.get("FILTER", ""), int(os.environ.get("TOP", "45")))
    print(out.getvalue())


def measure(label: str, n: int, step: Callable[[int], None], profile: bool,
            database_url: str, batch: int = 50) -> float:
    """CPU per request: the least of several batches (on a shared machine, contention only
    ever adds time), and the median batch beside it."""
    for i in range(20):  # warm up (imports, caches, prepared statements, connections)
        step(10_000_000 + i)
    pg = own_backends(database_url)
    pg0 = proc_cpu(pg)
    profiler = cProfile.Profile(time.process_time) if profile else None
    if profiler:
        profiler.enable()
    if os.environ.get("CALLGRIND"):  # under valgrind --tool=callgrind --instr-atstart=no
        return _instructions(label, n, step)
    per_batch = []
    done = 0
    while done < n:
        cpu0 = time.process_time()
        for i in range(done, min(n, done + batch)):
            step(i)
        per_batch.append((time.process_time() - cpu0) / (min(n, done + batch) - done))
        done += batch
    if profiler:
        profiler.disable()
    pg_cpu = proc_cpu(pg) - pg0
    per_batch.sort()
    print(f"{label:30} app {per_batch[0] * 1000:6.2f} ms (median batch "
          f"{per_batch[len(per_batch) // 2] * 1000:6.2f})   PostgreSQL {pg_cpu / n * 1000:5.2f} ms"
          f"   per request ({n}{', profiled' if profile else ''})")
    if profiler:
        print_profile(profiler)
    return per_batch[0]


def _instructions(label: str, n: int, step: Callable[[int], None],
                  whole: Callable[[], object] | None = None) -> float:
    """Instructions per request, counted by callgrind (stable on a busy machine); `whole`:
    one call that does all n at once, instead of n steps."""
    import subprocess

    def control(*args: str) -> str:
        return subprocess.run(["callgrind_control", *args, str(os.getpid())],
                              capture_output=True, text=True, check=True).stdout

    control("--zero")
    control("--instr=on")
    if whole is not None:
        whole()
    else:
        for i in range(n):
            step(i)
    control("--instr=off")
    out = Path(os.environ["CALLGRIND"]) / f"{label.split()[0]}-{label.split()[1][1:8]}"
    control(f"--dump={out.name}")
    time.sleep(1)
    totals = 0
    for path in Path.cwd().glob(f"callgrind.out.{os.getpid()}*"):
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("totals:") and out.name in path.read_text(errors="replace"):
                totals = max(totals, int(line.split()[1]))
    print(f"{label:30} {totals / n / 1e6:8.2f} M instructions per request ({n}, callgrind)")
    return totals / n


def measure_delivery(app, database_url: str, profile: bool) -> None:
    """CPU per message of one deliver_mail run over every pending confirmation."""
    from registration.services.mail import delivery, outbox

    with app.app_context():
        n = outbox.pending_count()
        if not n:
            print("mail delivery: nothing pending (run with the register flow)")
            return
        pg = own_backends(database_url)
        pg0 = proc_cpu(pg)
        if os.environ.get("CALLGRIND"):
            _instructions(f"deliver_mail run ({n}", n, lambda i: None,
                          whole=lambda: delivery.deliver_pending())
            return
        profiler = cProfile.Profile(time.process_time) if profile else None
        if profiler:
            profiler.enable()
        cpu0 = time.process_time()
        report = delivery.deliver_pending()
        cpu = time.process_time() - cpu0
        if profiler:
            profiler.disable()
        pg_cpu = proc_cpu(pg) - pg0
    assert report.sent == n, report
    print(f"{'deliver_mail, per message':30} app {cpu / n * 1000:6.2f} ms{'':22}"
          f"PostgreSQL {pg_cpu / n * 1000:5.2f} ms   per message ({n}"
          f"{', profiled' if profiler else ''})")
    if profiler:
        print_profile(profiler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url",
                        default="postgresql+psycopg://postgres@127.0.0.1:5432/bench_cpu")
    parser.add_argument("-n", type=int, default=400, help="requests per flow")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--only", choices=["register", "mail", "checkin"], default=None)
    parser.add_argument("--identity", action="store_true",
                        help="every category gives identity data (as bench/register.py)")
    args = parser.parse_args()

    ensure_postgres_database(args.database_url)
    fresh_database(args.database_url)
    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption())
    with tempfile.TemporaryDirectory() as instance:
        env = app_env(args.database_url, Path(instance), REDIS_URL=fresh_redis(REDIS_URL),
                      BADGE_SIGNING_KEY=base64.b64encode(key).decode(),
                      RATELIMIT_REGISTRATION="1000000 per minute",
                      RATELIMIT_API="100000 per second")
        migrate(env)
        if args.identity:
            import subprocess

            from bench._server import BIN, ROOT

            subprocess.run([str(BIN / "flask"), "--app", "wsgi", "editions", "settings",
                            "--identity", "all"], cwd=ROOT, env=env, check=True,
                           capture_output=True)
        os.environ.update(env)
        from registration import create_app

        app = create_app()
        logging.getLogger().setLevel(logging.WARNING)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

        def register(i: int) -> None:
            client = app.test_client()
            page = client.get("/register")
            assert page.status_code == 200, page.status_code
            match = CSRF.search(page.get_data(as_text=True))
            assert match
            response = client.post("/register", data={
                "csrf_token": match.group(1), "category": "expert", "honorific": "Dr.",
                "given_name": "Maria", "family_name": "Ivanova",
                "native_name": "Мария Иванова", "organisation": "Bench Org",
                "position": "Delegate", "country": "RU", "email": f"cpu{i}@example.org",
                "phone": "+7 912 345 67 89", "consent": "y", "expertise": "cybersecurity",
                **(identity_fields(i, "RU") if args.identity else {})})
            assert response.status_code == 303, response.get_data(as_text=True)[:3000]

        if args.only in (None, "register"):
            measure("GET+POST /register", args.n, register, args.profile, args.database_url)
            measure("GET /register alone", args.n,
                    lambda i: app.test_client().get("/register"), args.profile,
                    args.database_url)
        if args.only in (None, "mail"):
            if args.only == "mail":  # confirmations to deliver, queued unmeasured
                for i in range(args.n):
                    register(i)
            # No worker consumes the broker here: the confirmations queued above wait.
            measure_delivery(app, args.database_url, args.profile)

        if args.only in (None, "checkin"):
            from bench.checkin import Workload, seed

            codes, token = seed(env, 2000)
            workload = Workload(codes)
            client = app.test_client()
            headers = {"Authorization": f"Bearer {token}"}

            def scan(i: int) -> None:
                code, nonce, _kind = workload.next()
                body = json.dumps({"code": code, "checkpoint": "main", "nonce": nonce})
                response = client.post("/api/v1/checkins", data=body, headers=headers,
                                       content_type="application/json")
                assert response.status_code == 200, response.get_data(as_text=True)

            measure("POST /api/v1/checkins", args.n * 2, scan, args.profile, args.database_url)
            noop = app.test_client()
            measure("GET /healthz (harness floor)", args.n * 2,
                    lambda i: noop.get("/healthz"), False, args.database_url)


if __name__ == "__main__":
    main()
