"""A real Celery worker for the kill tests, run as a subprocess (`python
tests/celery_worker.py [celery worker options]`), configured by the environment like
production (`celery -A wsgi.celery worker`).

SLOW_BADGE_SECONDS and SLOW_AUDIT_SECONDS slow each badge drawn and each audit entry
written (an import writes one per row inside its transaction), so that a test can kill
the worker half-way through a run."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registration.services import audit, printing


def _slowed(func: Any, seconds: float) -> Any:
    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        return func(*args, **kwargs)

    return slow


if float(os.environ.get("SLOW_BADGE_SECONDS") or 0):
    printing.badge_data = _slowed(printing.badge_data, float(os.environ["SLOW_BADGE_SECONDS"]))
if float(os.environ.get("SLOW_AUDIT_SECONDS") or 0):
    audit.record = _slowed(audit.record, float(os.environ["SLOW_AUDIT_SECONDS"]))

from wsgi import celery  # noqa: E402

if __name__ == "__main__":
    celery.worker_main(["worker", "--pool=solo", "--loglevel=warning", "--without-gossip",
                        "--without-mingle", *sys.argv[1:]])
