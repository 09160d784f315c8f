"""Fixtures: one migrated database per test session and xdist worker (SQLite, or PostgreSQL
from TEST_DATABASE_URL), a fresh app per test, emptied tables after each test; and the
shared helpers as fixtures (test modules do not import each other).

As in Flask's tutorial, `app` holds no app context: every request the test client sends
gets its own, as in production. A test that reads or writes the database itself opens one
(`with app.app_context():`), or asks for `app_ctx` when it sends no request at all.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, has_app_context
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from jinja2.bccache import Bucket, BytecodeCache
from werkzeug.security import generate_password_hash

from registration import create_app
from registration.editions import marked_current
from registration.extensions import db
from registration.fields import ALL_CATEGORY_FIELD_NAMES, COMMON_FIELDS, IDENTITY_FIELDS
from registration.models import Checkpoint, Delegate, Edition, StaffUser, Status
from registration.services.registration import build_delegate
from registration.validation import clean_record

SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "samples" / "delegates.csv"
STAFF_PASSWORD = "correct horse battery staple"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
# The form's field names (make_delegate's keyword arguments that are form values).
FORM_FIELDS = frozenset((*COMMON_FIELDS, *ALL_CATEGORY_FIELD_NAMES, *IDENTITY_FIELDS))


def _recreate_database(url: sa.URL, name: str, create: bool = True) -> None:
    """Drop database `name` on TEST_DATABASE_URL's server (and create it again, empty)."""
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:  # each xdist worker has its own temporary directory, so its own file
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:  # parallel run: each worker empties tables in a database of its own
        base = sa.make_url(url)
        name = f"{base.database}_{worker}"
        _recreate_database(base, name)
        yield base.set(database=name).render_as_string(hide_password=False)
        _recreate_database(base, name, create=False)
        return
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # every test run starts from an empty schema
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    yield url


@pytest.fixture(scope="session")
def base_config(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return {
        "APP_ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_DIR": str(tmp_path_factory.mktemp("instance")),
        "REGISTRATION_CLOSES_AT": None,
        "CATEGORY_CAPACITIES": {},
        # scrypt costs tens of milliseconds per staff account; the suite creates hundreds.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        # Rate limits are on in production and development; tests that test them turn
        # them on (tests/test_hardening.py), the others are not slowed or refused.
        "RATELIMIT_ENABLED": False,
    }


@pytest.fixture(scope="session")
def _migrated(base_config: dict) -> dict[str, Any]:
    """Migrate the test database; returns the first edition as the migration seeded it."""
    app = create_app(base_config)
    with app.app_context():
        upgrade()
        edition = Edition.__table__
        with db.engine.connect() as conn:
            first = conn.execute(sa.select(edition).order_by(edition.c.id).limit(1)).one()
        db.engine.dispose()
    return dict(first._mapping)


def _empty_tables(first_edition: dict[str, Any]) -> None:
    """Empty every table but keep what the migrations made: the first edition (its settings
    put back as seeded, current again) and its main entrance."""
    kept = {"edition", "checkpoint"}
    tables = [t for t in reversed(db.metadata.sorted_tables) if t.name not in kept]
    if db.engine.dialect.name == "postgresql":
        # Never a silent hang: a lock still held by something the test left running ends
        # in an error naming the statement.
        db.session.execute(sa.text("SET LOCAL lock_timeout = '60s'"))
        db.session.execute(sa.text("TRUNCATE " + ", ".join(t.name for t in tables)
                                   + " RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    checkpoint, edition, first_id = Checkpoint.__table__, Edition.__table__, first_edition["id"]
    db.session.execute(checkpoint.delete().where(
        (checkpoint.c.edition_id != first_id) | (checkpoint.c.id != "main")))
    db.session.execute(edition.delete().where(edition.c.id != first_id))
    db.session.execute(edition.update().where(edition.c.id == first_id).values(first_edition))
    db.session.commit()


class OwnContextClient(FlaskClient):
    """Refuses to send a request while the test holds an app context: the request would
    reuse it (its `g`, its database session) instead of getting its own as in production."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if has_app_context():
            raise RuntimeError("a test request was sent inside an app context; close the "
                               "`with app.app_context():` block (or drop `app_ctx`) first")
        return super().open(*args, **kwargs)


class _SharedBytecode(BytecodeCache):
    """Compiled templates kept across the apps of one test process."""

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.store:
            bucket.bytecode_from_string(self.store[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


_TEMPLATES = _SharedBytecode()


@pytest.fixture
def make_app(base_config: dict, _migrated: dict[str, Any]) -> Iterator[Callable[..., Flask]]:
    """Build an app with extra settings; tables are emptied afterwards."""
    apps: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        app = create_app({**base_config, **overrides})
        app.test_client_class = OwnContextClient
        app.jinja_env.bytecode_cache = _TEMPLATES
        apps.append(app)
        return app

    yield factory
    for app in apps:
        # A batch print or import a test started on the embedded pool and did not wait for
        # must finish before the tables are emptied: its transaction holds locks that the
        # TRUNCATE waits for, while its next write waits behind the TRUNCATE (a hang that
        # PostgreSQL cannot see: the job thread waits on the test process).
        executor = app.extensions.get("task_executor")
        if executor is not None and not executor.wait_idle(60):
            warnings.warn("a background task was still running 60 s after its test",
                          stacklevel=1)
    for app in apps[:1]:
        with app.app_context():
            db.session.remove()
            _empty_tables(_migrated)
    for app in apps:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def edition_settings(app: Flask) -> Callable[..., None]:
    """Change the current edition's settings, as an admin does on /staff/settings (e.g.
    registration_closes_at=…, capacities={"government": 1}); the seeded ones come back
    after the test."""

    def change(**values: Any) -> None:
        with app.app_context():
            edition = marked_current()
            assert edition is not None
            for name, value in values.items():
                setattr(edition, name, value)
            db.session.commit()

    return change


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    """An app context for the whole test, for tests that send no request."""
    with app.app_context():
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def samples_csv() -> Path:
    if not SAMPLES.exists():
        pytest.skip(f"{SAMPLES} is missing")
    return SAMPLES


@pytest.fixture
def mail_text() -> Callable[[bytes], str]:
    """Every text part (plain and HTML) of a stored RFC 5322 message, decoded: bodies are
    base64, so a test must not look for words in the raw bytes."""
    import email
    import email.policy

    def decode(message: bytes) -> str:
        parsed = email.message_from_bytes(bytes(message), policy=email.policy.default)
        return "\n".join(str(part.get_content()) for part in parsed.walk()
                         if part.get_content_maintype() == "text")

    return decode


@pytest.fixture
def csrf_from() -> Callable[[str], str]:
    """The CSRF token of a page's form."""

    def find(html: str) -> str:
        match = CSRF_RE.search(html) or re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert match, "page has no CSRF token"
        return match.group(1)

    return find


@pytest.fixture
def get_csrf(client: FlaskClient, csrf_from: Callable[[str], str]) -> Callable[..., str]:
    def fetch(path: str = "/register") -> str:
        return csrf_from(client.get(path).get_data(as_text=True))

    return fetch


@pytest.fixture
def staff_password() -> str:
    """The password of the accounts `login` creates."""
    return STAFF_PASSWORD


def _loaded(obj: Any) -> Any:
    """Load every column before the app context ends, so the object can still be read after
    it (detached); reading it again from the database needs a new context."""
    db.session.refresh(obj)
    return obj


@pytest.fixture
def from_db(app: Flask) -> Callable[[Any], Any]:
    """A row as stored now (by primary key `id`), read in an app context of its own and
    returned detached with every column loaded."""

    def load(obj: Any) -> Any:
        with app.app_context():
            return db.session.get(type(obj), obj.id)

    return load


@pytest.fixture
def login(client: FlaskClient, app: Flask) -> Callable[..., StaffUser]:
    """Sign `client` in as a new staff member of `role` (without going through the form)."""

    def sign_in(role: str = "desk", email: str | None = None) -> StaffUser:
        with app.app_context():
            staff = StaffUser(email=email or f"{role}@forum.test", role=role, active=True,
                              password_hash=generate_password_hash(
                                  STAFF_PASSWORD, method=app.config["PASSWORD_HASH_METHOD"]),
                              session_version=0, failed_logins=0)
            db.session.add(staff)
            db.session.commit()
            staff = _loaded(staff)
        with client.session_transaction() as session:
            session["_user_id"] = staff.get_id()
            session["_fresh"] = True
        return staff

    return sign_in


# The public registration form, filled in for each category.
CATEGORY_DATA = {
    "government": {
        "ministry": "Ministry of Public Security",
        "delegation": "CN",
        "head_of_delegation": "y",
    },
    "expert": {"expertise": ["cybersecurity", "counter_terrorism"]},
    "scholar": {
        "institution": "Peking University",
        "department": "Law School",
        "academic_title": "Professor",
    },
    "ngo": {"website": "redcross.example.org", "focus": "Disaster relief"},
}


@pytest.fixture
def category_data() -> dict[str, dict[str, Any]]:
    """The category fields `form_data` fills in, per category."""
    return CATEGORY_DATA


@pytest.fixture
def form_data() -> Callable[..., dict]:
    """What a delegate posts to /register (`None` leaves a field out)."""

    def fill(csrf: str, category: str = "government", **overrides: Any) -> dict:
        data = {
            "csrf_token": csrf,
            "category": category,
            "honorific": "Dr.",
            "given_name": "Xiaoming",
            "family_name": "Wang",
            "native_name": "王小明",
            "badge_name": "",
            "organisation": "Ministry of Public Security",
            "position": "Deputy Director-General",
            "country": "CN",
            "email": "wang.xiaoming@example.cn",
            "phone": "+86 138 0013 8000",
            "dietary_needs": "Halal",
            "accessibility_needs": "",
            "consent": "y",
            **CATEGORY_DATA.get(category, {}),
        }
        data.update(overrides)
        return {k: v for k, v in data.items() if v is not None}

    return fill


@pytest.fixture
def make_delegate(request: pytest.FixtureRequest) -> Callable[..., Delegate]:
    """A stored delegate, validated by the product's own rules (validation.clean_record, as
    for imports: category fields and consent optional) and built by build_delegate.

    Keyword arguments named like form/import columns (given_name, email, country, ministry,
    expertise, …) are form data; other keywords set model attributes afterwards (public_id,
    needs_reprint, …). `status` and `printed` set what the desk would have done since;
    `head` sets head_of_delegation whatever the category. Called inside an app context the
    delegate stays in that session; outside one, it is stored in a context of its own and
    returned detached, with every column loaded.
    """
    numbers = itertools.count(1)

    def make(category: str = "government", status: Status | str = Status.SUBMITTED, *,
             printed: bool = False, head: bool | None = None, source: str = "self",
             commit: bool = True, **fields: Any) -> Delegate:
        if not has_app_context():
            assert commit, "outside an app context the delegate must be committed"
            with request.getfixturevalue("app").app_context():
                return _loaded(make(category, status, printed=printed, head=head,
                                    source=source, **fields))
        n = next(numbers)
        data = {
            "category": category, "honorific": "Dr.", "given_name": f"Given{n}",
            "family_name": "Wang", "native_name": "", "badge_name": "",
            "organisation": "Ministry of Public Security", "position": "Director",
            "country": "CN", "email": f"person{n}@example.org", "phone": "+86 138 0013 8000",
            "ministry": "MPS",
        }
        data.update({k: v for k, v in fields.items() if k in FORM_FIELDS})
        clean, errors = clean_record(data, require_category_fields=False,
                                     require_consent=False)
        assert not errors, errors
        delegate = build_delegate(clean, source=source)
        delegate.reference = f"GPS-TEST-{n:04d}"
        delegate.status = Status(status).value
        if head is not None:
            delegate.details = {**delegate.details, "head_of_delegation": head}
        if printed:
            delegate.printed_at = datetime.now(UTC)
            delegate.print_count = 1
        for name, value in fields.items():
            if name not in FORM_FIELDS:
                setattr(delegate, name, value)
        delegate.refresh_search_text()
        db.session.add(delegate)
        if commit:
            db.session.commit()
        return delegate

    return make


@pytest.fixture
def stored_bytes() -> Callable[[Flask], bytes]:
    """Everything the database holds, as bytes, to search for a value in clear: on SQLite
    the file (and its -wal and -journal), on PostgreSQL a `pg_dump --data-only`."""

    def read(app: Flask) -> bytes:
        url = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
        with app.app_context():
            db.session.remove()
            db.engine.dispose()  # SQLite: everything is in the file (and its -wal) on disk
        if url.get_backend_name() == "postgresql":
            import shutil
            import subprocess

            dump = shutil.which("pg_dump")
            assert dump, "pg_dump is needed for this test on PostgreSQL"
            return subprocess.run(
                [dump, "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U",
                 url.username or "postgres", "--data-only", url.database or ""],
                check=True, capture_output=True).stdout
        data = b""
        for suffix in ("", "-wal", "-journal"):
            try:
                with open(f"{url.database}{suffix}", "rb") as fh:
                    data += fh.read()
            except FileNotFoundError:
                pass
        return data

    return read


@pytest.fixture
def wait_for_job() -> Callable[..., dict]:
    """Poll a background job's JSON until it has finished; returns that JSON."""

    def wait(client: FlaskClient, job_url: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = client.get(job_url + ".json").get_json()
            if data["finished"]:
                return data
            time.sleep(0.05)
        raise AssertionError("job did not finish")

    return wait


# ---------------------------------------------------------------- a real IPP printer
IPPEVEPRINTER = "/usr/sbin/ippeveprinter"
ROOT = Path(__file__).resolve().parent.parent


class IppPrinter:
    """An ippeveprinter (Debian cups-ipp-utils: a real IPP Everywhere printer) on a free
    loopback port, writing every job it receives to `spool`."""

    # avahi-client inside ippeveprinter now and then aborts while it registers the printer
    # ("dbus-watch-glue.c: request_dispatch: Assertion … failed", seen in CI): a known race
    # of that library, not of the printing. The printer is then started again.
    STARTS = 3

    def __init__(self, spool: Path, command: str = "/bin/true") -> None:
        self.spool = spool
        for attempt in range(1, self.STARTS + 1):
            try:
                self._start(command)
                return
            except RuntimeError as exc:
                if "Assertion" not in str(exc) or attempt == self.STARTS:
                    raise

    def _start(self, command: str) -> None:
        import socket
        import subprocess

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.uri = f"ipp://127.0.0.1:{self.port}/ipp/print"
        self.log = self.spool.parent / f"ippeveprinter-{self.port}.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [IPPEVEPRINTER, "-a", str(ROOT / "docs/ippeveprinter-badges.conf"),
                 "-c", command, "-k", "-d", str(self.spool), "-p", str(self.port),
                 "Badge printer"],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.log.read_text(errors="replace"))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("ippeveprinter did not start listening")

    def pdfs(self) -> list[Path]:
        """The documents received, in job order (ippeveprinter names them JOBID-NAME.pdf)."""
        return sorted(self.spool.glob("*.pdf"), key=lambda p: int(p.name.split("-", 1)[0]))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(5)


def _dns_sd_started() -> bool:
    """ippeveprinter needs DNS-SD: start the system bus and avahi where they are not
    running (CI containers), as root, with the script `.ci/run` uses."""
    import subprocess

    if os.geteuid():
        return False
    return subprocess.run(["bash", str(ROOT / ".ci/start-dns-sd")],
                          capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def _ippeveprinter_usable(tmp_path_factory: pytest.TempPathFactory) -> bool:
    if not os.path.exists(IPPEVEPRINTER):
        pytest.skip("ippeveprinter is missing (Debian package cups-ipp-utils)")
    spool = tmp_path_factory.mktemp("ipp-probe")
    for attempt in range(2):
        try:
            IppPrinter(spool).stop()
            return True
        except RuntimeError as exc:
            if "DNS-SD" in str(exc) and (attempt or not _dns_sd_started()):
                pytest.skip("ippeveprinter needs DNS-SD: run dbus-daemon and avahi-daemon "
                            "(Debian dbus, avahi-daemon; as root: mkdir -p /run/dbus; "
                            "dbus-daemon --system --fork; avahi-daemon -D)")
            if "DNS-SD" not in str(exc):
                pytest.skip(f"ippeveprinter cannot start here: {str(exc).strip()[:200]}")
    return False


@pytest.fixture
def ipp_printer(_ippeveprinter_usable: bool,
                tmp_path: Path) -> Iterator[Callable[..., IppPrinter]]:
    """Start ippeveprinters for a test: `ipp_printer()` prints (the job completes at once);
    `ipp_printer(command="/bin/false")` aborts every job, as a jammed printer would."""
    started: list[IppPrinter] = []

    def start(command: str = "/bin/true") -> IppPrinter:
        spool = tmp_path / f"spool{len(started)}"
        spool.mkdir()
        printer = IppPrinter(spool, command)
        started.append(printer)
        return printer

    yield start
    for printer in started:
        printer.stop()


@pytest.fixture
def serve_app() -> Iterator[Callable[[Flask], str]]:
    """Serve an app on a free loopback port in a thread (for a real browser); returns the
    base URL. Every server started is stopped after the test."""
    from werkzeug.serving import make_server

    running: list[tuple[Any, threading.Thread]] = []

    def serve(app: Flask) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server, thread in running:
        server.shutdown()
        thread.join(5)


@pytest.fixture
def qr_camera_video() -> Callable[[bytes, Path], str]:
    """Chromium's fake camera (`--use-file-for-fake-video-capture=PATH`) showing the QR code
    of a real PDF (a rendered badge, an e-ticket): the code is found on the PDF's first page,
    cut out with its quiet zone, enlarged onto a 640x480 grey frame and written to `path` as
    YUV4MPEG2 (4:2:0, chroma 128). Returns the code's text, as read from the PDF."""
    try:
        import pypdfium2
        import zxingcpp
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - dev requirements
        pytest.skip(f"{exc.name} is needed to build the fake camera video")

    def write(pdf: bytes, path: Path) -> str:
        image = pypdfium2.PdfDocument(pdf)[0].render(scale=3).to_pil().convert("L")
        found = [r for r in zxingcpp.read_barcodes(image)
                 if r.format == zxingcpp.BarcodeFormat.QRCode]
        assert found, "the PDF's QR code does not decode"
        pos = found[0].position
        xs = [pos.top_left.x, pos.top_right.x, pos.bottom_left.x, pos.bottom_right.x]
        ys = [pos.top_left.y, pos.top_right.y, pos.bottom_left.y, pos.bottom_right.y]
        margin = (max(xs) - min(xs)) // 8  # keep the quiet zone
        qr = image.crop((min(xs) - margin, min(ys) - margin, max(xs) + margin,
                         max(ys) + margin)).resize((400, 400), Image.Resampling.NEAREST)
        frame = Image.new("L", (640, 480), 235)
        frame.paste(qr, (120, 40))
        chroma = bytes([128]) * (320 * 240)
        with path.open("wb") as fh:
            fh.write(b"YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg\n")
            for _ in range(6):
                fh.write(b"FRAME\n" + frame.tobytes() + chroma + chroma)
        return found[0].text

    return write
