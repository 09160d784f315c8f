"""Building one email: subject and bodies in the delegate's language, and the complete
RFC 5322 message (text + HTML, inline QR code and e-ticket PDF for approval and reprint).

Nothing here touches the outbox or the network: outbox.materialise calls build_message once
per message and stores the bytes.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from email.charset import BASE64, Charset
from email.header import Header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import format_datetime as rfc2822_date
from email.utils import formataddr, make_msgid, parseaddr
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from ...countries import country_name
from ...i18n import category_label, event_texts, local_datetime
from ...models import Delegate
from .. import badge_signing, manage_links
from ..eticket import eticket_filename, eticket_pdf

KINDS = ("registered", "approved", "rejected", "reprinted", "cancelled", "manage_link",
         "more_info")
SUBJECTS: dict[str, Any] = {
    "registered": _l("Registration received — %(reference)s"),
    "approved": _l("You are accredited — %(reference)s"),
    "rejected": _l("Your accreditation request — %(reference)s"),
    "reprinted": _l("Your new badge QR code — %(reference)s"),
    "cancelled": _l("Registration cancelled — %(reference)s"),
    "manage_link": _l("Your link to manage your registration — %(reference)s"),
    "more_info": _l("Information needed for your accreditation — %(reference)s"),
}
# Kinds whose message carries the current QR code and e-ticket.
WITH_TICKET = frozenset({"approved", "reprinted"})


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown mail kind {kind!r}")


def qr_png(payload: str, scale: int = 8, border: int = 4) -> bytes:
    """The QR code for `payload` as a PNG (for email, where a vector PDF does not display),
    drawn from the badge engine's own encoder so email, e-ticket and badge agree."""
    from PIL import Image

    from badges.qr import matrix

    modules = matrix(payload)
    n = len(modules)
    size = n + 2 * border
    image = Image.new("1", (size, size), 1)
    image.putdata([0 if (border <= y < n + border and border <= x < n + border
                         and modules[y - border][x - border]) else 1
                   for y in range(size) for x in range(size)])
    image = image.resize((size * scale, size * scale), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def sender() -> str:
    return current_app.config.get("MAIL_DEFAULT_SENDER") or "accreditation@localhost"


def _msgid_domain() -> str:
    """The sender's domain, as IDNA: Message-ID and Content-ID must be ASCII."""
    address = _ascii_domain(parseaddr(sender())[1])
    return address.rpartition("@")[2] or "localhost"


def render_mail(kind: str, delegate: Delegate, *, base_url: str | None = None,
                **context: Any) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of `kind` for `delegate`, in the delegate's language."""
    check_kind(kind)
    locale = delegate.locale if delegate.locale in current_app.config["LANGUAGES"] else "en"
    with force_locale(locale):
        values = {
            "delegate": delegate,
            **event_texts(locale),
            "current_lang": locale,
            "category_label": category_label(delegate.category, locale),
            "country_label": country_name(delegate.country, locale),
            "registered_at": local_datetime(delegate.created_at),
            **context,
        }
        if "manage_url" not in values and delegate.email_key is not None:
            values["manage_url"] = manage_links.manage_url(delegate, base_url)
            values["manage_link_days"] = manage_links.max_age().days
        subject = str(SUBJECTS[kind]) % {"reference": delegate.reference}
        values["subject"] = subject
        text = render_template(f"mail/{kind}.txt", **values)
        html = render_template(f"mail/{kind}.html", **values)
    return subject, text, html


class _SmtpCompat32(Compat32):
    """compat32 with CRLF line ends, writing a short ASCII header as it is.

    compat32 wraps every header value in an email.header.Header to fold it, even a
    Message-ID or a Date that fits on its line: a third of the time it takes to write out a
    confirmation (profiled with bench/cpu_per_request.py --only mail). Values that are not
    ASCII, span lines or are too long still go to the library's folding."""

    def fold_binary(self, name: str, value: str) -> bytes:
        limit = self.max_line_length or 78
        if (isinstance(value, str) and value.isascii() and "\n" not in value
                and "\r" not in value and len(name) + 2 + len(value) <= limit):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


# Messages are built on the compat32 API (email.mime) and written with CRLF line ends. The
# newer EmailMessage API parses every header it is given and again when it writes the message
# out: 28.4 M instructions per confirmation delivered against 20.6 M with compat32
# (bench/cpu_per_request.py --only mail under callgrind), most of the mail worker's cost per
# message at registration peaks. Non-ASCII header values are RFC 2047 encoded words; bodies
# are UTF-8 in base64, which every SMTP server carries.
SMTP_COMPAT = _SmtpCompat32(linesep="\r\n")


# Non-ASCII header values as base64 encoded words. The library's default for UTF-8 is
# "shortest": it measures each piece both ways, counting the quoted-printable length a byte
# at a time, a tenth of the worker's time per confirmation (the em dash in every subject).
UTF8_HEADERS = Charset("utf-8")
UTF8_HEADERS.header_encoding = BASE64


def _header(name: str, value: str) -> Any:
    """A header value: itself if ASCII, else a Header, which compat32 writes as RFC 2047
    encoded words of at most 75 characters, folded after the header's name with the
    message's line ends (typeshed types header values as str, hence Any)."""
    return value if value.isascii() else Header(value, UTF8_HEADERS, header_name=name)


def _ascii_domain(address: str) -> str:
    """`address` with an internationalised domain written as IDNA (ASCII)."""
    local, _, domain = address.rpartition("@")
    if domain and not domain.isascii():
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    return address


def _address(name: str, value: str) -> Any:
    """An address header value: a display name that is not ASCII as encoded words (split
    like any header's), the domain as IDNA. A local part that is not ASCII needs SMTPUTF8,
    which this sender does not speak: it is left as it is and the server refuses it."""
    display, address = parseaddr(value)
    address = _ascii_domain(address)
    if not display or not address.isascii():
        return address
    if display.isascii():
        return formataddr((display, address))
    header = Header(display, UTF8_HEADERS, header_name=name)
    header.append(f"<{address}>", "us-ascii")
    return header


def build_message(kind: str, delegate: Delegate, *, recipient: str | None = None,
                  base_url: str | None = None, **context: Any) -> Message:
    """A complete message: plain text + HTML alternatives; for approval and reprint the QR
    code as an inline image (cid) of the HTML part and the e-ticket PDF as an attachment:
    multipart/mixed[alternative[plain, related[html, png]], pdf]. Write it out with
    message_bytes."""
    qr_cid = make_msgid(domain=_msgid_domain()) if kind in WITH_TICKET else None
    subject, text, html = render_mail(kind, delegate, base_url=base_url,
                                      qr_cid=qr_cid[1:-1] if qr_cid else None, **context)
    msg = MIMEMultipart("alternative", policy=SMTP_COMPAT)
    msg.attach(MIMEText(text, "plain", "utf-8", policy=SMTP_COMPAT))
    html_part: Message = MIMEText(html, "html", "utf-8", policy=SMTP_COMPAT)
    if qr_cid:
        related = MIMEMultipart("related", policy=SMTP_COMPAT)
        related.attach(html_part)
        image = MIMEImage(qr_png(badge_signing.token_for(delegate)), "png",
                          policy=SMTP_COMPAT)
        image["Content-ID"] = qr_cid
        image.add_header("Content-Disposition", "inline", filename="qr-code.png")
        related.attach(image)
        html_part = related
    msg.attach(html_part)
    if qr_cid:
        alternative, msg = msg, MIMEMultipart("mixed", policy=SMTP_COMPAT)
        msg.attach(alternative)
        ticket = MIMEApplication(eticket_pdf(delegate), "pdf", policy=SMTP_COMPAT)
        ticket.add_header("Content-Disposition", "attachment",
                          filename=eticket_filename(delegate))
        msg.attach(ticket)
    msg["Subject"] = _header("Subject", subject)
    msg["From"] = _address("From", sender())
    msg["To"] = _address("To", recipient or delegate.email or "")
    msg["Date"] = rfc2822_date(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=_msgid_domain())
    msg["Auto-Submitted"] = "auto-generated"
    msg["Content-Language"] = "zh-Hans" if delegate.locale == "zh" else "en"
    return msg


def message_bytes(msg: Message) -> bytes:
    """The message as sent over SMTP (CRLF line ends), in the policy it was built with."""
    return msg.as_bytes()
