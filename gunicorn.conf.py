"""gunicorn settings (read automatically from the working directory: `gunicorn wsgi:app`).

Threads let a worker serve another request while one waits on PostgreSQL (each
registration makes several round trips and a synchronous commit); the GIL still limits
each worker to one core, so workers ≈ cores. Two threads each: with four, requests queue
on the GIL instead (interleaved runs on 2 cores, two instances of one worker:
bench/register.py 141.5–178.8 registrations/s with two threads against 125.2–147.3 with
four; bench/checkin.py p99 at 400/s 13.8 and 16.7 ms against 15.5 and 35.6 ms).
"""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
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
    collections (registration/heap.py: a full collection cost ~100 ms of a worker's time)."""
    from registration.heap import freeze_startup_heap

    freeze_startup_heap()


def child_exit(server, worker):
    if _metrics_dir:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
