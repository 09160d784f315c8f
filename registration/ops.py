"""What operations need from every app server: `GET /healthz` (the process answers),
`GET /readyz` (database and, when configured, broker reachable), `GET /metrics`
(Prometheus), reads repeated once or twice when the database connection was lost, and
database outages answered 503 with Retry-After instead of 500.

Metrics. Figures that live in the database (registrations by status, check-ins by result,
outbox depth, job durations) are computed from it at scrape time, so every server reports
the same, correct totals however many processes there are. Request latency is measured
in each process; with several gunicorn workers set PROMETHEUS_MULTIPROC_DIR (an empty
directory, emptied at each start: gunicorn.conf.py does) and prometheus-client's
multiprocess mode adds the workers' histograms up at scrape time. `/metrics` answers only
to `Authorization: Bearer <METRICS_TOKEN>`; without METRICS_TOKEN it does not exist (404).
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, render_template, request
from flask_babel import gettext as _
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from .data_crypto import DataKeyError
from .extensions import csrf, db, login_manager

log = logging.getLogger(__name__)
bp = Blueprint("ops", __name__)
RETRY_AFTER_SECONDS = 5
IDEMPOTENT = frozenset({"GET", "HEAD"})
RETRY_PAUSES = (0.1, 0.5, 1.0)  # seconds before the 1st, 2nd, 3rd+ repeat of a read
JOB_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)

REQUEST_LATENCY = Histogram(
    "forum_http_request_duration_seconds", "Time to answer a request, by endpoint.",
    ["method", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is alive (no database access: a load balancer's liveness probe)."""
    return jsonify(status="ok")


def _check_database() -> str | None:
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        db.session.rollback()
        return exc.__class__.__name__
    return None


def _check_broker() -> str | None:
    from .tasks import broker_url, celery_for

    if not broker_url(current_app):
        return None
    try:
        with celery_for().connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0,
                                   timeout=2)
    except Exception as exc:  # noqa: BLE001
        return exc.__class__.__name__
    return None


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready for traffic: the database answers, and the broker when one is configured."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    from .tasks import broker_url

    if not broker_url(current_app):
        checks.pop("broker")
    down = {name: error for name, error in checks.items() if error}
    body = {"status": "unavailable" if down else "ok",
            "checks": {name: ("down: " + error) if error else "ok"
                       for name, error in checks.items()}}
    return jsonify(body), 503 if down else 200


def _counted_by(name: str, documentation: str, label: str, column: Any) -> Metric:
    """A gauge of row counts per value of `column` (one GROUP BY at scrape time)."""
    gauge = GaugeMetricFamily(name, documentation, labels=[label])
    for value, count in db.session.execute(select(column, func.count()).group_by(column)):
        gauge.add_metric([str(value)], count)
    return gauge


class DatabaseCollector:
    """The figures kept in the database, read at scrape time."""

    def collect(self) -> Iterator[Metric]:
        from .models import CheckIn, Delegate, Job, OutboxMessage, Scan

        yield _counted_by("forum_delegates", "Delegates by status.", "status",
                          Delegate.status)
        yield _counted_by("forum_registrations", "Registrations received, by how they came "
                          "in.", "source", Delegate.source)
        yield _counted_by("forum_checkin_scans", "Scans decided at the doors, by result.",
                          "result", Scan.result)
        yield GaugeMetricFamily("forum_checked_in", "Check-ins (delegate × checkpoint).",
                                value=db.session.scalar(select(func.count()).select_from(
                                    CheckIn)) or 0)
        outbox = GaugeMetricFamily("forum_outbox_messages", "Outgoing mail by status "
                                   "(pending = the outbox depth).", labels=["status"])
        for status, count in db.session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)):
            outbox.add_metric([status], count)
        yield outbox
        yield from self._jobs(Job)
        db.session.rollback()

    def _jobs(self, job: Any) -> Iterator[Metric]:
        states = GaugeMetricFamily("forum_jobs", "Background jobs by kind and state.",
                                   labels=["kind", "state"])
        for kind, state, count in db.session.execute(
                select(job.kind, job.state, func.count()).group_by(job.kind, job.state)):
            states.add_metric([kind, state], count)
        yield states
        durations: dict[str, list[float]] = {}
        for kind, started, finished in db.session.execute(select(
                job.kind, job.started_at, job.finished_at).where(
                job.started_at.is_not(None), job.finished_at.is_not(None))):
            durations.setdefault(kind, []).append((finished - started).total_seconds())
        hist = HistogramMetricFamily("forum_job_duration_seconds", "How long finished jobs "
                                     "ran (last run), by kind.", labels=["kind"])
        for kind, values in durations.items():
            buckets = [(str(b), sum(1 for v in values if v <= b)) for b in JOB_BUCKETS]
            buckets.append(("+Inf", len(values)))
            hist.add_metric([kind], buckets, sum(values))
        yield hist


def _authorised() -> bool:
    token = current_app.config.get("METRICS_TOKEN") or ""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                              token.encode())


@bp.get("/metrics")
def metrics() -> Response:
    if not current_app.config.get("METRICS_TOKEN"):
        return Response("Not Found\n", 404, mimetype="text/plain")
    if not _authorised():
        return Response("Unauthorized\n", 401, {"WWW-Authenticate": 'Bearer realm="metrics"'},
                        mimetype="text/plain")
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_LATENCY)
    registry.register(DatabaseCollector())
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def is_outage(exc: Exception) -> bool:
    return isinstance(exc, OperationalError) or bool(
        isinstance(exc, DBAPIError) and exc.connection_invalidated)


def wants_json() -> bool:
    """Whether the answer to this request is JSON (the API, or a client asking for it)."""
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json"
    )


def outage_response(exc: Exception) -> Any:
    """The answer while the database is unreachable: 503 with Retry-After, a page (drawn
    without the database) or JSON on the API. Also for an error page that could not be
    drawn because loading the signed-in user hit the outage (web.py)."""
    log.warning("database unavailable: %s", exc.__class__.__name__)
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection is gone already
        db.session.remove()
    # The page must not ask the database who is signed in (flask-login caches it here).
    g._login_user = login_manager.anonymous_user()
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if wants_json():
        return jsonify(error="database_unavailable",
                       message="The database is not reachable for a moment; retry in "
                               f"{RETRY_AFTER_SECONDS} seconds."), 503, headers
    return render_template(
        "error.html", code=503, title=_("Back in a moment"),
        message=_("The service is briefly unavailable. Wait a few seconds and try "
                  "again."),
    ), 503, headers


def _retrying_dispatch(app: Flask) -> Any:
    """`app.dispatch_request`, run again (at most DB_RETRY_ATTEMPTS more times, after a
    short pause) when an idempotent request (GET, HEAD) lost its database connection: a
    database restart or failover costs the reader a moment, not an error page. Writes are
    never repeated; what still fails is answered 503 (below)."""
    dispatch = app.dispatch_request

    def dispatch_request() -> Any:
        attempts = int(app.config.get("DB_RETRY_ATTEMPTS", 2))
        if request.method not in IDEMPOTENT:
            return dispatch()
        for attempt in range(attempts + 1):
            try:
                return dispatch()
            except DBAPIError as exc:
                if not is_outage(exc) or attempt == attempts:
                    raise
                log.warning("database connection lost (%s); %s %s again",
                            exc.__class__.__name__, request.method, request.path)
                db.session.remove()  # its connection is gone: a fresh one next
                g.pop("_login_user", None)  # loaded again with the new connection
                time.sleep(RETRY_PAUSES[min(attempt, len(RETRY_PAUSES) - 1)])
        return dispatch()  # not reached: the loop returns or raises

    return dispatch_request


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.dispatch_request = _retrying_dispatch(app)  # type: ignore[method-assign]

    @app.before_request
    def start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def observe_latency(response: Response) -> Response:
        started = g.get("request_started")
        if started is not None:
            REQUEST_LATENCY.labels(request.method, request.endpoint or "none").observe(
                time.perf_counter() - started)
        return response

    @app.errorhandler(DataKeyError)
    def data_key_missing(exc: DataKeyError) -> Any:
        """Encrypted data this process cannot read: the key that wrote it is not configured
        (a rotation whose old key was left out of DATA_ENCRYPTION_OLD_KEYS). A setting to
        mend, not a bug: say so, and which, without the value."""
        log.error("encrypted data cannot be read: %s", exc)
        db.session.rollback()
        message = _("Some encrypted data cannot be read: the key that wrote it is not "
                    "configured on this server. An administrator must add it to "
                    "DATA_ENCRYPTION_OLD_KEYS (README, “Identity data: keys and retention”).")
        if wants_json():
            return jsonify(error="data_key_missing", message=message), 503
        return render_template("error.html", code=503, title=_("A key is missing"),
                               message=message), 503

    @app.errorhandler(DBAPIError)
    def database_unavailable(exc: DBAPIError) -> Any:
        """The database went away (a restart, a failover): 503 and come back shortly. Other
        database errors are bugs and stay 500s."""
        if not is_outage(exc):
            raise exc
        return outage_response(exc)
