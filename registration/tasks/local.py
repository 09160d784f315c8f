"""The embedded task runner: with no broker configured, each web process runs the tasks on
small thread pools of its own (outside the request: the response never waits), and a
thread sends the periodic tasks. The same task functions as on a Celery worker.

Two pools: the desk's jobs (batch print, import: someone is watching their progress) get
TASK_THREADS threads of their own, and mail delivery and the periodic sweeps share one more.
With one pool for all, a batch print queued behind the confirmations of a 1,200-row import
waited minutes for a thread."""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask

log = logging.getLogger(__name__)


class LocalExecutor:
    def __init__(self, app: Flask, schedule: dict[str, tuple[str, float]]) -> None:
        self.app = app
        self.schedule = schedule
        self.threads = int(app.config.get("TASK_THREADS") or 2)
        self.lock = threading.Lock()
        self.pool: ThreadPoolExecutor | None = None  # jobs
        self.background: ThreadPoolExecutor | None = None  # mail, sweeps
        self.pid = 0
        self.pending = 0
        self.idle = threading.Condition(self.lock)
        self.beat: threading.Thread | None = None
        # Periodic tasks queued or running: the beat does not queue one again until it has
        # finished (a sweep slowed by a silent printer must not pile up behind itself).
        self.periodic_busy: set[str] = set()

    def _pool(self, name: str = "") -> ThreadPoolExecutor:
        """The pool for task `name` (made in this process: after a fork, pools of our own)."""
        from .definitions import JOB_TASKS

        if self.pool is None or self.background is None or self.pid != os.getpid():
            self.pid = os.getpid()
            self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="task-job")
            self.background = ThreadPoolExecutor(1, thread_name_prefix="task")
            self.beat = None
        return self.pool if name in JOB_TASKS.values() else self.background

    def submit(self, name: str, args: tuple[Any, ...] = (), periodic: bool = False) -> None:
        with self.lock:
            if periodic:
                if name in self.periodic_busy:
                    return
                self.periodic_busy.add(name)
            pool = self._pool(name)
            self.pending += 1
        pool.submit(self._run, name, args, periodic)

    def _run(self, name: str, args: tuple[Any, ...], periodic: bool = False) -> None:
        from . import celery_for

        try:
            celery_for(self.app).tasks[name](*args)  # the task's __call__: an app context
        except Exception:
            log.exception("task %s failed", name)
        finally:
            with self.lock:
                self.pending -= 1
                if periodic:
                    self.periodic_busy.discard(name)
                self.idle.notify_all()

    def wait_idle(self, timeout: float = 10) -> bool:
        """Block until every submitted task has finished (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.idle.wait(left)
        return True

    def ensure_beat(self) -> None:
        with self.lock:
            self._pool()
            if self.beat is not None and self.beat.is_alive():
                return
            self.beat = threading.Thread(target=self._beat, name="task-beat", daemon=True)
            self.beat.start()

    def _beat(self) -> None:
        due = {name: time.monotonic() + every for name, (_task, every) in
               self.schedule.items()}
        while True:
            now = time.monotonic()
            for name, (task, every) in self.schedule.items():
                if now >= due[name]:
                    due[name] = now + every
                    self.submit(task, periodic=True)
            time.sleep(max(0.5, min(due.values()) - time.monotonic()))
