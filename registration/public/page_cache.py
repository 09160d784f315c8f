"""The blank registration form, rendered once per variant and reused with a fresh CSRF token.

A blank form is the same page for every visitor except for the CSRF token, so rendering its
~70 fields and 500 country options on every GET (about 5 ms of CPU) is waste when thousands
of delegates open it in the first hour. Only the blank form is cached; a form with errors,
values or flashed messages is always rendered. The cache lives on the app (no module state)
and is bounded: one entry per language × preselected category × set of full categories.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from flask import current_app, request, session
from flask_wtf.csrf import generate_csrf

_EXTENSION = "blank_form_pages"
_MAX_ENTRIES = 64


def cacheable_request(allowed_args: frozenset[str]) -> bool:
    """A GET whose page can only differ by the CSRF token (no flashes, known arguments)."""
    return (request.method == "GET" and "_flashes" not in session
            and set(request.args) <= allowed_args)


def blank_form_page(key: Hashable, render: Callable[[], str]) -> str | bytes:
    """The page for `key`, rendered by `render()` the first time, with this session's token.

    Kept as UTF-8 bytes cut where the token goes: a cached page is joined, not searched and
    encoded again (encoding the ~30 KB page was ~10 % of a cached GET's instructions)."""
    cache: dict[Hashable, list[bytes]] = current_app.extensions.setdefault(_EXTENSION, {})
    token = generate_csrf()
    parts = cache.get(key)
    if parts is None:
        page = render()
        if token not in page:  # nothing to substitute: do not cache someone else's page
            return page
        if len(cache) < _MAX_ENTRIES:
            cache[key] = [part.encode() for part in page.split(token)]
        return page
    return token.encode().join(parts)
