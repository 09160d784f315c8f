"""Shared by the bench scripts: a throwaway PostgreSQL database, gunicorn instances to measure
(each with an instance folder of its own, as on separate servers) and a Celery worker."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database(url: str) -> None:
    """Empty the database's public schema (the bench owns this database)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def ensure_postgres_database(url: str) -> None:
    """Create the database named in `url` if the server does not have it yet."""
    target = sa.engine.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                             {"n": target.database})
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def app_env(database_url: str, instance: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DATABASE_URL": database_url, "APP_ENV": "production",
                "SECRET_KEY": "bench-" + "x" * 40, "INSTANCE_PATH": str(instance),
                # Production requires the identity data key (registration/data_crypto.py).
                "DATA_ENCRYPTION_KEY": "YmVuY2gta2V5LWZvci1pZGVudGl0eS1kYXRhLTMyYnk",
                "SESSION_COOKIE_SECURE": "false", "PUBLIC_BASE_URL": "http://127.0.0.1",
                **extra})
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True)


@contextlib.contextmanager
def gunicorn(env: dict[str, str], workers: int = 2) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if proc.poll() is not None:
                raise RuntimeError("gunicorn exited before listening")
            time.sleep(0.1)
        time.sleep(0.5)  # let both workers boot
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


BENCH_REDIS_URL = "redis://127.0.0.1:6379/9"  # the benches' own Redis database (flushed)


def fresh_redis(url: str = BENCH_REDIS_URL) -> str:
    import redis

    redis.Redis.from_url(url).flushdb()
    return url


@contextlib.contextmanager
def gunicorns(env: dict[str, str], instances: int = 2, workers: int = 1) -> Iterator[list[str]]:
    """`instances` gunicorn servers on one database and broker, each with its own
    INSTANCE_PATH (nothing shared on disk), `workers` processes each."""
    with contextlib.ExitStack() as stack:
        bases = []
        for n in range(instances):
            folder = Path(env["INSTANCE_PATH"]) / f"server-{n}"
            folder.mkdir(parents=True, exist_ok=True)
            bases.append(stack.enter_context(gunicorn({**env, "INSTANCE_PATH": str(folder)},
                                                      workers=workers)))
        yield bases


def unit_setting(unit: str, name: str) -> str | None:
    """A setting of a systemd unit in deploy/ (None when it sets none)."""
    for line in (ROOT / "deploy" / unit).read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == name:
            return value.strip()
    return None


def unit_niceness(unit: str) -> int:
    """The `Nice=` of a systemd unit in deploy/ (0 when it sets none), so that a bench's
    worker runs at the priority production gives it."""
    return int(unit_setting(unit, "Nice") or 0)


def unit_runs_idle(unit: str) -> bool:
    """Whether the unit runs its processes under the idle scheduling policy
    (`CPUSchedulingPolicy=idle`)."""
    return unit_setting(unit, "CPUSchedulingPolicy") == "idle"


@contextlib.contextmanager
def celery_worker(env: dict[str, str], concurrency: int = 1, niceness: int | None = None,
                  idle: bool | None = None) -> Iterator[subprocess.Popen]:
    """`celery -A wsgi.celery worker` with its own instance folder, at the niceness and
    scheduling policy of deploy/forum-worker.service unless told otherwise (`idle`: the
    idle policy, through chrt)."""
    folder = Path(env["INSTANCE_PATH"]) / "worker"
    folder.mkdir(parents=True, exist_ok=True)
    if niceness is None:
        niceness = unit_niceness("forum-worker.service")
    if idle is None:
        idle = unit_runs_idle("forum-worker.service")
    policy = ["chrt", "--idle", "0"] if idle else []
    proc = subprocess.Popen(
        [*policy, "nice", "-n", str(niceness), str(BIN / "celery"), "-A", "wsgi.celery", "worker",
         "--loglevel=WARNING", f"--concurrency={concurrency}", "--without-gossip",
         "--without-mingle"],
        cwd=ROOT, env={**env, "INSTANCE_PATH": str(folder)},
    )
    try:
        time.sleep(3)  # connect to the broker
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
    return ordered[index]


def proc_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by these processes (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def gunicorn_pids(port: str) -> list[int]:
    """The gunicorn master listening on `port` and its workers."""
    master: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "gunicorn" in cmd and f"127.0.0.1:{port}" in cmd:
                master.append(int(entry.name))
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid in master:
                children.append(int(entry.name))
    # Workers share the master's command line: keep each process once, masters only once.
    masters = [pid for pid in master if pid not in children]
    return masters + children


def postgres_pids() -> list[int]:
    """PostgreSQL server processes (backends included), when the server runs on this box."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in {"postgres", "postmaster"}:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def process_tree(pid: int) -> list[int]:
    """`pid` and its children (a Celery worker's pool processes)."""
    found = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found
