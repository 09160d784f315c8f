"""Settings read from the environment, with defaults that are safe for a laptop.

Every setting has one name, used both as the environment variable and as the Flask config key,
so `DATABASE_URL=… flask --app wsgi …`, `make run` and gunicorn all see the same thing.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .fields import CATEGORY_KEYS

INSTANCE_DIR = Path(
    os.environ.get("INSTANCE_PATH", Path(__file__).resolve().parent.parent / "instance")
)


class ConfigError(RuntimeError):
    """The environment describes a configuration the service must not start with."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, value: str | None, default: int | None) -> int | None:
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from exc


def _threshold(value: str | None) -> float:
    if value is None or value.strip() == "":
        return 0.9
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.5 <= number <= 1:
        raise ConfigError(f"WATCHLIST_NAME_THRESHOLD must be a number from 0.5 to 1, got "
                          f"{value!r}")
    return number


def _datetime(name: str, value: str | None, tz: ZoneInfo) -> datetime | None:
    """Parse an ISO date-time; a value without a zone is read in the forum's time zone."""
    if value is None or value.strip() == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ConfigError(
            f"{name} must be an ISO date-time such as 2026-12-01T18:00+08:00"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def _capacities(env: dict[str, str]) -> dict[str, int]:
    """CAPACITY_GOVERNMENT=1500 etc.; an unset category has no limit."""
    caps = {}
    for key in CATEGORY_KEYS:
        name = f"CAPACITY_{key.upper()}"
        value = _int(name, env.get(name), None)
        if value is not None:
            caps[key] = value
    return caps


MIN_SECRET_KEY_BYTES = 32


def _check_secret_key(key: str) -> str:
    """Production keys: at least 32 bytes (what `secrets.token_hex(32)` prints has 64)."""
    if len(key.encode()) < MIN_SECRET_KEY_BYTES:
        raise ConfigError(
            f"SECRET_KEY is too weak: it needs at least {MIN_SECRET_KEY_BYTES} random bytes. "
            "Generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    return key


def _secret_key(env: dict[str, str], production: bool, instance_dir: Path) -> str:
    if env.get("SECRET_KEY"):
        return _check_secret_key(env["SECRET_KEY"]) if production else env["SECRET_KEY"]
    if production:
        raise ConfigError(
            "SECRET_KEY is not set. In production (APP_ENV=production) the service refuses to "
            "start without one; generate it with: "
            "python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    # Development: keep one generated key across restarts so sessions survive `make run` again.
    path = instance_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _data_key(env: dict[str, str], production: bool) -> str:
    from .data_crypto import DataKeyError, decode_key

    key = env.get("DATA_ENCRYPTION_KEY", "").strip()
    if production and not key:
        raise ConfigError(
            "DATA_ENCRYPTION_KEY is not set. In production identity data is encrypted with it; "
            "make one with: flask --app wsgi privacy new-key")
    if key:
        try:
            decode_key(key)
        except DataKeyError as exc:
            raise ConfigError(f"DATA_ENCRYPTION_KEY: {exc}") from None
    return key


def load_config(env: dict[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from environment variables."""
    env = dict(os.environ if env is None else env)
    app_env = env.get("APP_ENV", "development").strip().lower()
    if app_env not in {"development", "production", "testing"}:
        raise ConfigError("APP_ENV must be development, production or testing")
    production = app_env == "production"
    instance_dir = Path(env.get("INSTANCE_PATH") or INSTANCE_DIR)
    secret_key = _secret_key(env, production, instance_dir)
    public_base_url = env.get("PUBLIC_BASE_URL", "").strip().rstrip("/")
    if production and not public_base_url:
        # Emailed links would otherwise be built from the request's Host header, which a
        # stranger controls (e.g. through the "send me a new link" form).
        raise ConfigError(
            "PUBLIC_BASE_URL is not set. In production emailed links must point to a fixed "
            "address, e.g. PUBLIC_BASE_URL=https://register.forum.example"
        )
    tz = ZoneInfo(env.get("EVENT_TIMEZONE", "Asia/Shanghai"))
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance_dir / 'registration.sqlite3'}"
    if database_url.startswith("postgres://"):  # the scheme Heroku-style providers hand out
        database_url = "postgresql+psycopg://" + database_url[len("postgres://") :]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]
    return {
        "APP_ENV": app_env,
        "TESTING": app_env == "testing",
        "INSTANCE_DIR": str(instance_dir),
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), production),
        "WTF_CSRF_ENABLED": _bool(env.get("WTF_CSRF_ENABLED"), True),
        "WTF_CSRF_TIME_LIMIT": None,  # a form left open at the desk all morning must still submit
        "MAX_CONTENT_LENGTH": _int(
            "MAX_CONTENT_LENGTH", env.get("MAX_CONTENT_LENGTH"), 16 * 1024 * 1024
        ),
        "EVENT_NAME": env.get("EVENT_NAME", "Global Public Safety Cooperation Forum"),
        "EVENT_DATES": env.get("EVENT_DATES", "8–10 December 2026 · Lianyungang"),
        # The same in Chinese, used on pages and in emails shown in Chinese.
        "EVENT_NAME_ZH": env.get("EVENT_NAME_ZH", "全球公共安全合作论坛"),
        "EVENT_DATES_ZH": env.get("EVENT_DATES_ZH", "2026年12月8日至10日 · 连云港"),
        "EVENT_TIMEZONE": tz.key,
        # The first edition's venue, organiser and contact (seeded once, then edited on
        # /staff/settings; the contact defaults to MAIL_DEFAULT_SENDER's address).
        "EVENT_VENUE": env.get("EVENT_VENUE", ""),
        "EVENT_VENUE_ZH": env.get("EVENT_VENUE_ZH", ""),
        "EVENT_ORGANISER": env.get("EVENT_ORGANISER", ""),
        "EVENT_CONTACT_EMAIL": env.get("EVENT_CONTACT_EMAIL", ""),
        "REFERENCE_PREFIX": env.get("REFERENCE_PREFIX", "GPS"),
        "BADGE_SIGNING_KEY": env.get("BADGE_SIGNING_KEY") or None,
        "BADGE_PREVIOUS_PUBLIC_KEYS": env.get("BADGE_PREVIOUS_PUBLIC_KEYS", ""),
        # Identity data at rest (registration/data_crypto.py): the key that encrypts and the
        # keys kept only for reading after a rotation. Required in production.
        "DATA_ENCRYPTION_KEY": _data_key(env, production),
        "DATA_ENCRYPTION_OLD_KEYS": env.get("DATA_ENCRYPTION_OLD_KEYS", "").strip(),
        "REGISTRATION_CLOSES_AT": _datetime(
            "REGISTRATION_CLOSES_AT", env.get("REGISTRATION_CLOSES_AT"), tz
        ),
        "CATEGORY_CAPACITIES": _capacities(env),
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": tz.key,
        "LANGUAGES": ["en", "zh"],
        # Outgoing mail. Without MAIL_SERVER (development) each message is written as an .eml
        # file into instance/mail/ and its path is logged.
        "MAIL_SERVER": env.get("MAIL_SERVER", "").strip(),
        "MAIL_PORT": _int("MAIL_PORT", env.get("MAIL_PORT"), 25),
        "MAIL_USE_TLS": _bool(env.get("MAIL_USE_TLS"), False),  # STARTTLS
        "MAIL_USE_SSL": _bool(env.get("MAIL_USE_SSL"), False),  # implicit TLS (port 465)
        "MAIL_USERNAME": env.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD", ""),
        "MAIL_DEFAULT_SENDER": env.get(
            "MAIL_DEFAULT_SENDER", "Forum Accreditation <accreditation@localhost>"
        ),
        "MAIL_TIMEOUT_SECONDS": _int("MAIL_TIMEOUT_SECONDS", env.get("MAIL_TIMEOUT_SECONDS"), 15),
        # Retries: the n-th failed attempt waits MAIL_RETRY_BASE_SECONDS * 2**(n-1) (at most
        # six hours); after MAIL_MAX_ATTEMPTS the message is marked failed.
        "MAIL_MAX_ATTEMPTS": _int("MAIL_MAX_ATTEMPTS", env.get("MAIL_MAX_ATTEMPTS"), 8),
        "MAIL_RETRY_BASE_SECONDS": _int(
            "MAIL_RETRY_BASE_SECONDS", env.get("MAIL_RETRY_BASE_SECONDS"), 60
        ),
        # Due retries are looked for this often (the beat's deliver_mail task; default 60).
        "MAIL_POLL_SECONDS": _int("MAIL_POLL_SECONDS", env.get("MAIL_POLL_SECONDS"), None),
        # Send the deliver_mail task after each request that queued mail (default: on,
        # except when TESTING: tests deliver explicitly or turn it on).
        "MAIL_BACKGROUND": (_bool(env["MAIL_BACKGROUND"]) if env.get("MAIL_BACKGROUND")
                            else None),
        # Every IPP request to a badge printer (status, Print-Job, job state) gives up after
        # this many seconds: the printer is then reported unreachable.
        "IPP_TIMEOUT_SECONDS": _int("IPP_TIMEOUT_SECONDS", env.get("IPP_TIMEOUT_SECONDS"), 10),
        # How often the sweep asks printers about jobs no page is following any more (a badge
        # counts as printed when its printer says the job completed).
        "PRINT_FOLLOW_SECONDS": _int("PRINT_FOLLOW_SECONDS", env.get("PRINT_FOLLOW_SECONDS"), 5),
        # Background work (registration/tasks/). With neither broker URL set each web
        # process runs the tasks on a pool of its own (TASK_THREADS threads).
        "REDIS_URL": env.get("REDIS_URL", "").strip(),
        "CELERY_BROKER_URL": env.get("CELERY_BROKER_URL", "").strip(),
        "TASK_THREADS": _int("TASK_THREADS", env.get("TASK_THREADS"), 2),
        # A job whose heartbeat stopped this long ago is run again (at most JOB_MAX_ATTEMPTS
        # runs) or ended failed; the sweep that checks runs every JOB_SWEEP_SECONDS. Both
        # together stay under the minute the desk is promised (heartbeats come every 0.5 s).
        "JOB_STALE_SECONDS": _int("JOB_STALE_SECONDS", env.get("JOB_STALE_SECONDS"), 40),
        "JOB_MAX_ATTEMPTS": _int("JOB_MAX_ATTEMPTS", env.get("JOB_MAX_ATTEMPTS"), 2),
        "JOB_SWEEP_SECONDS": _int("JOB_SWEEP_SECONDS", env.get("JOB_SWEEP_SECONDS"), 15),
        # Watchlist name matches: the Jaro-Winkler similarity (0.5-1) both name parts need.
        "WATCHLIST_NAME_THRESHOLD": _threshold(env.get("WATCHLIST_NAME_THRESHOLD")),
        # GET /metrics answers only with "Authorization: Bearer <METRICS_TOKEN>" (unset: 404).
        "METRICS_TOKEN": env.get("METRICS_TOKEN", "").strip(),
        # A GET or HEAD that lost its database connection is run again this many times.
        "DB_RETRY_ATTEMPTS": _int("DB_RETRY_ATTEMPTS", env.get("DB_RETRY_ATTEMPTS"), 2),
        # The address written into emailed links, e.g. https://register.forum.example. Set it in
        # production: without it links use the address of the request that caused the mail.
        "PUBLIC_BASE_URL": public_base_url,
        # Reverse proxies in front of the app (nginx = 1): their X-Forwarded-For/-Proto are
        # trusted, so sign-in throttling counts the client's address, not the proxy's.
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", env.get("TRUSTED_PROXIES"), 0),
        # The scanner page does not send a code seen again within this many seconds; it shows
        # the previous answer again (a handheld scanner often reads a badge twice).
        "CHECKIN_REPEAT_SECONDS": _int(
            "CHECKIN_REPEAT_SECONDS", env.get("CHECKIN_REPEAT_SECONDS"), 4
        ),
        "MANAGE_LINK_MAX_AGE_DAYS": _int(
            "MANAGE_LINK_MAX_AGE_DAYS", env.get("MANAGE_LINK_MAX_AGE_DAYS"), 30
        ),
        # How staff passwords are hashed (werkzeug's method string). scrypt in production;
        # the test suite sets a cheap one so that creating accounts costs nothing.
        "PASSWORD_HASH_METHOD": env.get("PASSWORD_HASH_METHOD", "scrypt").strip() or "scrypt",
        # Display names of countries and regions that follow the host's protocol instead of
        # CLDR's (registration/countries.py); empty: the shipped registration/data file.
        "COUNTRY_NAMES_FILE": env.get("COUNTRY_NAMES_FILE", "").strip(),
        **_hardening(env, production),
    }


def _hardening(env: dict[str, str], production: bool) -> dict[str, Any]:
    """Rate limits, sign-in throttling and security headers (README, "Security")."""

    def text(name: str, default: str) -> str:
        return env.get(name, "").strip() or default

    def number(name: str, default: int) -> int:
        return int(_int(name, env.get(name), default) or 0)

    redis_url = env.get("REDIS_URL", "").strip()
    return {
        # Flask-Limiter. Redis when REDIS_URL is set (every app server shares one count),
        # else process memory (`make run`). Off only where a setting says so (the tests).
        "REDIS_URL": redis_url,
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED"), True),
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        # No X-RateLimit-* headers on every answer (each would cost a storage round trip);
        # a 429 still says when to retry (Retry-After, web.rate_limited).
        "RATELIMIT_HEADERS_ENABLED": False,
        # Redis unreachable: count per process rather than answer 500.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_STRATEGY": "moving-window",
        "RATELIMIT_REGISTRATION": text("RATELIMIT_REGISTRATION", "5 per minute; 30 per hour"),
        "RATELIMIT_MANAGE_LINK": text("RATELIMIT_MANAGE_LINK", "3 per hour"),
        "RATELIMIT_STAFF_LOGIN": text("RATELIMIT_STAFF_LOGIN", "10 per minute"),
        "RATELIMIT_API": text("RATELIMIT_API", "50 per second"),
        # The visa-letter verification page (/verify/<token>), per client address.
        "RATELIMIT_VERIFY": text("RATELIMIT_VERIFY", "30 per minute"),
        # At most this many mails per recipient address per hour from the public flows
        # (registration confirmation, manage links); counted in the outbox table.
        "MAIL_PUBLIC_PER_RECIPIENT_PER_HOUR": number("MAIL_PUBLIC_PER_RECIPIENT_PER_HOUR", 3),
        # Sign-in throttling per (account, client address); a ceiling per account across
        # addresses asks for an emailed one-time link instead of refusing.
        "LOGIN_MAX_FAILURES_PAIR": number("LOGIN_MAX_FAILURES_PAIR", 5),
        "LOGIN_DELAY_AFTER_FAILURES": number("LOGIN_DELAY_AFTER_FAILURES", 3),
        "LOGIN_MAX_FAILURES_ACCOUNT": number("LOGIN_MAX_FAILURES_ACCOUNT", 10),
        "LOGIN_WINDOW_MINUTES": number("LOGIN_WINDOW_MINUTES", 15),
        "LOGIN_LOCK_MINUTES": number("LOGIN_LOCK_MINUTES", 15),
        "LOGIN_LINK_MAX_AGE_MINUTES": number("LOGIN_LINK_MAX_AGE_MINUTES", 15),
        # JSON bodies: larger or deeper ones are refused with 400.
        "JSON_MAX_BYTES": number("JSON_MAX_BYTES", 64 * 1024),
        "JSON_MAX_DEPTH": number("JSON_MAX_DEPTH", 32),
        # Strict-Transport-Security max-age in production (0: no header).
        "HSTS_SECONDS": number("HSTS_SECONDS", 31536000 if production else 0),
    }
