"""Background work: Celery tasks, thin wrappers around services, and how they are sent.

Two ways to run the same task functions (registration/tasks/definitions.py):

* **Celery** when `REDIS_URL` or `CELERY_BROKER_URL` is set: the web servers only send
  tasks; `celery -A wsgi.celery worker` runs them and `celery -A wsgi.celery beat` sends
  the periodic sweeps (see deploy/ and the README). Tasks are acknowledged late and are
  idempotent (jobs: a compare-and-set claim; mail: the outbox's row claims), so a task
  redelivered after a worker died does its work at most once.
* **Embedded** (no broker configured: `make run` on a laptop, the test suite): each web
  process runs the tasks on a small thread pool of its own (`local.LocalExecutor`), and a
  thread sends the periodic ones, outside the request. Job state and outputs are in the
  database either way, so nothing a request needs lives in one process.
"""

from .dispatch import (
    broker_url,
    celery_for,
    dispatch,
    init_app,
    local_executor,
    send_job,
)

__all__ = ["broker_url", "celery_for", "dispatch", "init_app", "local_executor", "send_job"]
