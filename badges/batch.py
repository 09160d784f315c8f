"""Many badges as one PDF: chunks, worker processes, and concatenation in order.

Bulk rendering is chunked so memory stays bounded however many badges and photos there
are: each chunk is drawn as a self-contained PDF (:func:`badges.draw.render_pages`) and
appended to the output by :class:`badges.pdfcat.PdfConcatenator`.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import BinaryIO

from .draw import BadgeData, EventInfo, get_layout, render_pages
from .layouts import BadgeLayout
from .pdfcat import PdfConcatenator

#: Badges per independently rendered chunk in bulk runs (bounds memory, see pdfcat).
CHUNK_BADGES = 400


def _chunks(it: Iterator[BadgeData], size: int) -> Iterator[list[BadgeData]]:
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def render_badges(badges: Iterable[BadgeData], event: EventInfo, layout: str | BadgeLayout,
                  out: BinaryIO, progress: Callable[[int], None] | None = None,
                  chunk_size: int = CHUNK_BADGES, workers: int = 1) -> int:
    """Render many badges, in the caller's order, as one PDF written to ``out``.

    ``badges`` may be a generator (e.g. a database cursor): it is consumed lazily. Pages
    are rendered ``chunk_size`` badges at a time and each finished chunk is appended to
    ``out`` (see :mod:`badges.pdfcat`), so memory is bounded by one chunk (its photos
    included) however long the run. ``out`` only needs ``write``. ``progress(n)`` is
    called after each badge (with ``workers`` > 1: after each chunk). Returns the number
    of badges drawn.

    ``workers`` > 1 renders chunks in that many forked processes (at most ``workers + 1``
    chunks in flight, output still in order). Leave it at 1 inside daemonic processes
    (e.g. task-queue workers), which may not have children.
    """
    lay = get_layout(layout)
    per_page = lay.per_page
    chunk_size = max(per_page, -(-chunk_size // per_page) * per_page)  # whole pages
    title = f"{event.name} badges"
    cat = PdfConcatenator(out, title=title)
    it = iter(badges)
    total = 0
    if workers > 1:
        total = _render_parallel(it, event, lay, title, cat, progress, chunk_size, workers)
    else:
        while True:
            try:
                first = next(it)
            except StopIteration:
                break
            offset = total

            def chunk_progress(n: int, offset: int = offset) -> None:
                if progress is not None:
                    progress(offset + n)

            chunk = itertools.chain([first], itertools.islice(it, chunk_size - 1))
            pdf, n = render_pages(chunk, event, lay, title, chunk_progress)
            total += n
            cat.add(pdf)
            del pdf
    if total == 0:
        cat.add(render_pages([], event, lay, title)[0])
    cat.close()
    return total


def _render_parallel(it: Iterator[BadgeData], event: EventInfo, lay: BadgeLayout, title: str,
                     cat: PdfConcatenator, progress: Callable[[int], None] | None,
                     chunk_size: int, workers: int) -> int:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    total = 0
    pending: collections.deque[Future[tuple[bytes, int]]] = collections.deque()
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        chunks = _chunks(it, chunk_size)
        for chunk in chunks:
            pending.append(pool.submit(render_pages, chunk, event, lay, title))
            if len(pending) > workers:
                total += _collect(pending.popleft(), cat, progress, total)
        while pending:
            total += _collect(pending.popleft(), cat, progress, total)
    return total


def _collect(fut: Future[tuple[bytes, int]], cat: PdfConcatenator,
             progress: Callable[[int], None] | None, done: int) -> int:
    pdf, n = fut.result()
    cat.add(pdf)
    if progress is not None and n:
        progress(done + n)
    return n
