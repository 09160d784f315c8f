"""gunicorn settings (read automatically from the working directory: `gunicorn wsgi:app`).

Threads let a worker serve another request while one waits on PostgreSQL (each
registration makes several round trips and a synchronous commit); the GIL still limits
each worker to one core, so workers ≈ cores. Two threads each: with four, requests queue
on the GIL instead (interleaved runs on 2 cores, two instances of one worker:
bench/register.py 141.5–178.8 registrations/s with two threads against 125.2–147.3 with
four; bench/checkin.py p99 at 400/s 13.8 and 16.7 ms against 15.5 and 35.6 ms).
"""

import os
import sys

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
# How long a thread may keep the GIL while another waits for it (Python's default: 5 ms). A
# request thread whose database answer has arrived waits that long behind one that is
# rendering, at each of a registration's round trips; at 0.5 ms they overlap better
# (interleaved runs of bench/register.py: 168.2 and 158.3 registrations/s at 5 ms, 171.5
# and 165.9 at 0.5 ms; bench/checkin.py closed loop 668 and 663 scans/s: no change).
gil_switch_interval_ms = float(os.environ.get("GIL_SWITCH_INTERVAL_MS", "0.5"))
if not gil_switch_interval_ms > 0:  # say so once at start, not in every worker's traceback
    raise ValueError("GIL_SWITCH_INTERVAL_MS must be a positive number of milliseconds")
keepalive = 5
timeout = 60
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None

# /metrics with several workers: prometheus-client's multiprocess mode keeps each worker's
# request-latency figures in PROMETHEUS_MULTIPROC_DIR and adds them up at scrape time.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def on_starting(server):
    """Start from an empty metrics directory (old workers' files would be counted)."""
    if _metrics_dir:
        os.makedirs(_metrics_dir, exist_ok=True)
        for name in os.listdir(_metrics_dir):
            if name.endswith(".db"):
                os.unlink(os.path.join(_metrics_dir, name))


def post_worker_init(worker):
    """The app is loaded: keep its long-lived objects out of the garbage collector's full
    collections (registration/heap.py: a full collection cost ~100 ms of a worker's time),
    and hand the GIL over sooner (gil_switch_interval_ms)."""
    from registration.heap import freeze_startup_heap

    freeze_startup_heap()
    sys.setswitchinterval(gil_switch_interval_ms / 1000)


def child_exit(server, worker):
    if _metrics_dir:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
