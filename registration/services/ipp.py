"""The IPP side of printing, through pyipp (a maintained asyncio IPP client; we never encode
the protocol ourselves). pyipp sends any operation with `IPP.execute`, including Print-Job
with the document as "data", and decodes the answers, so the three calls we need —
Get-Printer-Attributes, Print-Job, Get-Job-Attributes — are thin wrappers here. The web and
CLI are synchronous: each call runs its own short event loop, with a session of its own that
is closed when the call ends.

Every request is bounded by one deadline (the IPP_TIMEOUT_SECONDS setting), from connecting
to the last byte of the answer: pyipp's own `request_timeout` covers only the wait for the
answer's headers, so a printer that sent headers and then stalled would hang the desk (or the
kiosk) for good. Each request also says `Connection: close`: the printer closes the
connection once it has answered, rather than holding an idle keep-alive connection per call.

A printer's URI is an IPP Everywhere printer (ipp://printer.local:631/ipp/print) or a CUPS
queue (ipp://cups-host:631/printers/badge1)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from pyipp import IPP
from pyipp.enums import IppJobState, IppOperation, IppPrinterState
from pyipp.exceptions import IPPConnectionError, IPPError, IPPParseError

# PWG 5101.1 media names for the badge layouts (badges/layouts.py page sizes); CR80 has no
# standard name, so it goes as a self-describing custom size.
MEDIA = {
    "a6": "iso_a6_105x148mm",
    "a4-4up": "iso_a4_210x297mm",
    "cr80": "custom_cr80_53.98x85.6mm",
}
DEFAULT_TIMEOUT = 10.0  # seconds for one IPP request (IPP_TIMEOUT_SECONDS)

T = TypeVar("T")


class IppFailure(Exception):
    """The printer could not be reached or refused the request; `code` says which:
    unreachable, rejected (the document or its attributes), error."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer reports: state idle / processing / stopped, or unreachable."""

    state: str
    reasons: list[str] = field(default_factory=list)
    message: str = ""
    media_ready: list[str] = field(default_factory=list)

    @property
    def reachable(self) -> bool:
        return self.state != "unreachable"

    @property
    def ready(self) -> bool:
        return self.state in {"idle", "processing"}


@dataclass(frozen=True)
class JobStatus:
    state: str  # pending, held, processing, stopped, canceled, aborted, completed
    reasons: list[str] = field(default_factory=list)
    message: str = ""

    @property
    def finished(self) -> bool:
        return self.state in {"canceled", "aborted", "completed"}


def check_uri(uri: str) -> str:
    """An ipp:// or ipps:// address with a host, or ValueError."""
    uri = (uri or "").strip()
    parts = urlsplit(uri)
    if parts.scheme not in {"ipp", "ipps"} or not parts.hostname:
        raise ValueError("The printer address must be an ipp:// or ipps:// URI with a host.")
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise ValueError("The printer address has an invalid port.") from None
    return uri


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [str(v) for v in items if str(v) and str(v) != "none"]


async def _execute(uri: str, operation: IppOperation, message: dict[str, Any],
                   timeout: float) -> dict:
    try:
        async with asyncio.timeout(timeout), aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=timeout),
                connector=aiohttp.TCPConnector(force_close=True)) as session:
            ipp = IPP(uri, request_timeout=max(1, round(timeout)), session=session)
            return await ipp.execute(operation, message)
    except TimeoutError:
        raise IppFailure("unreachable", f"no answer within {timeout:g} s") from None
    except (IPPConnectionError, aiohttp.ClientError, OSError) as exc:
        raise IppFailure("unreachable", str(exc)) from None
    except IPPParseError as exc:
        raise IppFailure("error", f"unreadable answer: {exc}") from None
    except IPPError as exc:
        detail = exc.args[1] if len(exc.args) > 1 else {}
        status = detail.get("status-code") if isinstance(detail, dict) else None
        code = "rejected" if isinstance(status, int) and 0x400 <= status < 0x500 else "error"
        return_detail = f"IPP status 0x{status:04x}" if isinstance(status, int) else str(exc)
        raise IppFailure(code, return_detail) from None


def printer_status(uri: str, timeout: float = DEFAULT_TIMEOUT) -> PrinterStatus:
    """Get-Printer-Attributes: state, reasons (media-empty, door-open, …), media ready."""
    try:
        answer = _run(_execute(uri, IppOperation.GET_PRINTER_ATTRIBUTES, {
            "operation-attributes-tag": {"requested-attributes": [
                "printer-state", "printer-state-reasons", "printer-state-message",
                "media-ready"]},
        }, timeout))
    except IppFailure as exc:
        return PrinterStatus("unreachable", [exc.code], exc.detail)
    attrs = (answer.get("printers") or [{}])[0]
    try:
        state = IppPrinterState(attrs.get("printer-state")).name.lower()
    except ValueError:
        state = "unknown"
    return PrinterStatus(state, _list(attrs.get("printer-state-reasons")),
                         str(attrs.get("printer-state-message") or ""),
                         _list(attrs.get("media-ready")))


def print_pdf(uri: str, pdf: bytes, *, layout: str, job_name: str,
              user: str = "badges", timeout: float = DEFAULT_TIMEOUT) -> int:
    """Print-Job with the PDF, the layout's media and no scaling; the printer's job id."""
    answer = _run(_execute(uri, IppOperation.PRINT_JOB, {
        "operation-attributes-tag": {
            "requesting-user-name": user[:100] or "badges",
            "job-name": job_name[:100],
            "document-format": "application/pdf",
        },
        "job-attributes-tag": {"media": MEDIA[layout], "print-scaling": "none"},
        "data": pdf,
    }, timeout))
    jobs = answer.get("jobs") or [{}]
    job_id = jobs[0].get("job-id")
    if not isinstance(job_id, int):
        raise IppFailure("error", "the printer did not return a job id")
    return job_id


def job_status(uri: str, job_id: int, timeout: float = DEFAULT_TIMEOUT) -> JobStatus:
    """Get-Job-Attributes: the job's state and reasons."""
    answer = _run(_execute(uri, IppOperation.GET_JOB_ATTRIBUTES, {
        "operation-attributes-tag": {"job-id": job_id, "requested-attributes": [
            "job-state", "job-state-reasons", "job-state-message"]},
    }, timeout))
    attrs = (answer.get("jobs") or [{}])[0]
    try:
        state = IppJobState(attrs.get("job-state")).name.lower()
    except ValueError:
        state = "pending"
    return JobStatus(state, _list(attrs.get("job-state-reasons")),
                     str(attrs.get("job-state-message") or ""))
