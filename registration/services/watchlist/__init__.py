"""Watchlists: import the agencies' files, match delegates, flag hits for the vetting role.

- names.py: transliteration and the tolerant name measure (no database);
- entries.py: the watchlist file (import with a per-row report, count, clear, purge);
- matching.py: matching delegates (on each commit that stores identity data, and over
  everyone after an import) and the session hook that runs it;
- hits.py: the hits for review (dismiss / keep flagged).
"""

from .matching import init_app, match_delegates, rematch_all

__all__ = ["init_app", "match_delegates", "rematch_all"]
