"""Printing to an IPP printer: click-to-spool for one badge and a 1,000-badge batch.

Starts ippeveprinter (Debian cups-ipp-utils; it needs DNS-SD: dbus + avahi running) on a
free loopback port with docs/ippeveprinter-badges.conf, registers it as two printers (A6
for single badges, A4 4-up for the batch), bulk-inserts approved delegates (no photos) in a
temporary SQLite database, signs a desk user in through the test client and measures:

* click-to-spool: from the desk's POST "Print on <printer>" until the PDF is complete in
  the printer's spool folder (p50, p99; target p99 < 500 ms), and until the printer's
  report of completion has marked the badge printed (following the job as the desk does);
* a 1,000-badge batch sent in chunks: time to the first document in the spool, and the
  total time until every chunk is reported completed and its badges marked printed.

    python bench/print.py [--singles 100] [--batch 1000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))

from _server import free_port, percentile  # noqa: E402

from registration import create_app  # noqa: E402
from registration.extensions import db  # noqa: E402
from registration.models import Delegate, StaffUser  # noqa: E402
from registration.services import print_batches, printers  # noqa: E402
from registration.services.selection import BatchFilter  # noqa: E402
from registration.text import search_key  # noqa: E402

IPPEVEPRINTER = "/usr/sbin/ippeveprinter"


def start_printer(spool: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    # Its log goes to a file: ippeveprinter logs every request, and an undrained pipe fills
    # after a few hundred requests and blocks the printer for good.
    log = spool.parent / f"{spool.name}-ippeveprinter.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [IPPEVEPRINTER, "-a", str(ROOT / "docs/ippeveprinter-badges.conf"), "-c",
             "/bin/true", "-k", "-d", str(spool), "-p", str(port), "Badge printer"],
            stdout=subprocess.DEVNULL, stderr=out)
    import socket

    for _ in range(200):
        if proc.poll() is not None:
            sys.exit(f"ippeveprinter did not start: {log.read_text(errors='replace')[:300]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"ipp://127.0.0.1:{port}/ipp/print"
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    sys.exit("ippeveprinter did not listen")


def populate(count: int, offset: int = 0) -> list[uuid.UUID]:
    now = datetime.now(UTC)
    rows = []
    for i in range(offset, offset + count):
        given, family = f"Given{i}", ["Wang", "Müller", "Ivanova", "Tanaka"][i % 4]
        email = f"p{i}@example.org"
        rows.append({
            "public_id": uuid.uuid4(), "reference": f"GPS-B{i // 10000:03d}-{i % 10000:04d}",
            "category": ["government", "expert", "scholar", "ngo"][i % 4],
            "status": "approved", "source": "self", "honorific": "Dr.", "given_name": given,
            "family_name": family, "native_name": "王小明" if i % 3 == 0 else "",
            "badge_name": "", "organisation": "Ministry of Public Security",
            "position": "Officer", "country": "CN", "email": email, "email_key": email,
            "phone": "+8613800138000", "dietary_needs": "", "accessibility_needs": "",
            "details": {}, "locale": "en", "consent_at": now, "badge_serial": 1,
            "print_count": 0, "printed_at": None, "needs_reprint": False, "created_at": now,
            "updated_at": now, "search_text": search_key(f"{given} {family} {email}"),
        })
    db.session.execute(sa.insert(Delegate), rows)
    db.session.commit()
    return [r["public_id"] for r in rows]


def spool_complete(spool: Path, count: int) -> bool:
    files = list(spool.glob("*.pdf"))
    return len(files) >= count and all(f.read_bytes().rstrip().endswith(b"%%EOF")
                                       for f in files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--singles", type=int, default=100)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    if not os.path.exists(IPPEVEPRINTER):
        sys.exit("ippeveprinter is missing: apt-get install cups-ipp-utils")

    tmp = Path(tempfile.mkdtemp(prefix="bench-print-"))
    single_spool, batch_spool = tmp / "single", tmp / "batch"
    single_spool.mkdir()
    batch_spool.mkdir()
    procs = []
    try:
        proc, single_uri = start_printer(single_spool)
        procs.append(proc)
        proc, batch_uri = start_printer(batch_spool)
        procs.append(proc)
        app = create_app({
            "APP_ENV": "testing", "TESTING": False, "SECRET_KEY": "bench-" + "x" * 40,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'print.sqlite3'}",
            "INSTANCE_DIR": str(tmp), "WTF_CSRF_ENABLED": False, "MAIL_BACKGROUND": False,
        })
        from flask_migrate import upgrade

        with app.app_context():
            upgrade()
            singles = populate(args.singles)
            desk_printer = printers.add("Desk", single_uri, "a6")
            batch_printer = printers.add("Sheets", batch_uri, "a4-4up")
            desk_printer_id = desk_printer.id
            staff = StaffUser(email="bench@forum.local", role="desk", active=True,
                              session_version=0, failed_logins=0, password_hash="-")
            db.session.add(staff)
            db.session.commit()
            identity = staff.get_id()
            batch_printer_id = batch_printer.id
            db.session.remove()

        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = identity
        client.set_cookie("desk_printer", str(desk_printer_id), domain="localhost")
        to_spool, to_printed = [], []
        for n, public_id in enumerate(singles, start=1):
            start = time.perf_counter()
            response = client.post(f"/staff/delegates/{public_id}/print-on-printer",
                                   data={"kind": "print"})
            job_url = response.headers.get("Location", "")
            if "/print-jobs/" not in job_url:
                sys.exit(f"the desk was not sent to a print job: {response.status_code} "
                         f"{job_url}")
            deadline = time.monotonic() + 30
            while not spool_complete(single_spool, n):
                if time.monotonic() > deadline:
                    sys.exit("no document reached the spool in 30 s")
                time.sleep(0.002)
            to_spool.append(time.perf_counter() - start)
            while client.get(job_url + ".json").get_json()["state"] == "sent":
                time.sleep(0.01)
            to_printed.append(time.perf_counter() - start)
        print(f"one badge, click to spool ({args.singles} badges, A6): "
              f"p50 {percentile(to_spool, 50) * 1000:.0f} ms, "
              f"p99 {percentile(to_spool, 99) * 1000:.0f} ms")
        print(f"one badge, click to marked printed (printer reports completed): "
              f"p50 {percentile(to_printed, 50) * 1000:.0f} ms, "
              f"p99 {percentile(to_printed, 99) * 1000:.0f} ms")

        with app.app_context():
            populate(args.batch, offset=args.singles)
            first: list[float] = []
            start = time.perf_counter()
            done = threading.Event()

            def watch() -> None:
                while not done.is_set():
                    if spool_complete(batch_spool, 1):
                        first.append(time.perf_counter() - start)
                        return
                    time.sleep(0.005)

            watcher = threading.Thread(target=watch)
            watcher.start()
            sent = print_batches.send_batch(BatchFilter(unprinted=True),
                                            printers.get(batch_printer_id), None,
                                            batch="bench", sort="category", unprinted=True)
            rendered = time.perf_counter() - start
            print_batches.wait_all(sent)
            total = time.perf_counter() - start
            done.set()
            watcher.join()
            state = print_batches.progress_json("bench")
        print(f"{args.batch}-badge batch to the printer (A4 4-up, {len(sent)} chunks of "
              f"{print_batches.CHUNK}): first document in the spool "
              f"{first[0] if first else float('nan'):.2f} s, all rendered and sent "
              f"{rendered:.1f} s, all reported completed and marked printed {total:.1f} s "
              f"({state['printed']} printed)")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(5)


if __name__ == "__main__":
    main()
