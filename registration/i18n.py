"""Language, labels and local times: the one place pages, mail, badges and the CLI ask.

Inside a request the visitor's language (flask-babel's locale selector) applies; outside one
(CLI commands, background jobs) there is no session to read, so callers pass the language.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app, has_request_context
from flask_babel import force_locale, get_locale
from flask_babel import format_datetime as babel_format_datetime
from flask_babel import gettext as _

from .fields import CATEGORIES

# A date-time in the forum's time zone with the zone shown, e.g. 2026-12-08 09:14 (GMT+08:00).
DATETIME_FORMAT = "yyyy-MM-dd HH:mm (ZZZZ)"


def current_language() -> str:
    """The request's language ("en" or "zh"); English outside a request."""
    if has_request_context():
        return str(get_locale() or "en")
    return "en"


def plain(text: object, lang: str = "en") -> str:
    """A (lazy) translated string as text: in the request's language inside a request,
    in `lang` outside one."""
    if has_request_context():
        return str(text)
    with force_locale(lang):
        return str(text)


# Category names by (language, key): the catalogues are compiled once per process, and the
# door answers hundreds of scans a second with one of four names in one of two languages.
_category_labels: dict[tuple[str, str], str] = {}


def category_label(key: str, lang: str | None = None) -> str:
    """The category's name in `lang` (default: the request's language, English outside a
    request); an unknown key is shown as it is."""
    label = CATEGORIES.get(key)
    if label is None:
        return key
    lang = lang or current_language()
    text = _category_labels.get((lang, key))
    if text is None:
        with force_locale(lang):
            text = _category_labels[(lang, key)] = str(label)
    return text


def yes_no(value: object) -> str:
    """"yes" or "no" in the request's language."""
    return _("yes") if value else _("no")


def local_datetime(value: datetime | str | None, fmt: str = DATETIME_FORMAT) -> str:
    """A date-time in the forum's time zone with the zone shown. Used by pages and emails
    (template filter `local_datetime`). An ISO 8601 string (as JSON carries times) is read
    first; one that is not a date-time is shown as it is."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return str(babel_format_datetime(moment, fmt))
    return str(babel_format_datetime(value, fmt))


def event_texts(lang: str) -> dict[str, str]:
    """The current edition's name and dates in `lang` (dates from its start and end)."""
    from .editions import edition_settings, format_dates

    edition = edition_settings()
    if edition is None:  # no database yet (e.g. `flask config` before the first migration)
        config = current_app.config
        suffix = "_ZH" if lang == "zh" else ""
        return {
            "event_name": config.get(f"EVENT_NAME{suffix}") or config["EVENT_NAME"],
            "event_dates": config.get(f"EVENT_DATES{suffix}") or config["EVENT_DATES"],
        }
    return {"event_name": edition.name(lang), "event_dates": format_dates(edition, lang)}

