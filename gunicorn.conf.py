"""gunicorn settings (read automatically from the working directory: `gunicorn wsgi:app`).

Threads let a worker serve another request while one waits on PostgreSQL (each
registration makes several round trips and a synchronous commit); the GIL still limits
each worker to one core, so workers ≈ cores and a few threads each.
"""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = 5
timeout = 60
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
