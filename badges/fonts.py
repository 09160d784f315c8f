"""Font discovery: which font files exist, and which font draws each character.

Why this exists: delegates' names come in a dozen scripts. A PDF font only draws the
glyphs it has, and a missing glyph prints as an empty box (.notdef) on a badge that the
delegate wears for three days. So for every character we pick a font whose cmap covers
it *before* drawing, and only embed TrueType (glyf) fonts, subset by ReportLab, so the
PDF prints the same on any machine. Shaping, bidi and line layout build on this in
:mod:`badges.shaping`.

With no usable system fonts at all, Latin text falls back to the PDF base font Helvetica
and other scripts are dropped with a warning on the ``badges`` logger; nothing crashes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import uharfbuzz
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

log = logging.getLogger("badges")

#: Environment variable: ``os.pathsep``-separated font directories. When set, it REPLACES
#: the standard search directories (so tests and containers can control exactly which
#: fonts exist; an empty directory means "no fonts").
FONT_DIRS_ENV = "BADGE_FONT_DIRS"

STANDARD_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
)

#: Debian packages providing the fonts below; used for the install hint and test skips.
DEBIAN_PACKAGES = ("fonts-wqy-zenhei", "fonts-noto-core")


@dataclass(frozen=True)
class FontSpec:
    """A font file we know how to use; ``package`` is the Debian package shipping it."""

    file: str
    package: str
    subfont: int = 0


# Order matters: for each character the first font (in the chain) covering it wins, and
# a run stays in its current font while that font covers the next character (so a
# combining mark is never split from its base). Latin first, then scripts, then CJK.
REGULAR_CHAIN = (
    FontSpec("NotoSans-Regular.ttf", "fonts-noto-core"),
    FontSpec("NotoSansArabic-Regular.ttf", "fonts-noto-core"),
    FontSpec("NotoSansHebrew-Regular.ttf", "fonts-noto-core"),
    FontSpec("NotoSansDevanagari-Regular.ttf", "fonts-noto-core"),
    FontSpec("NotoSansThai-Regular.ttf", "fonts-noto-core"),
    *(
        FontSpec(f"NotoSans{script}-Regular.ttf", "fonts-noto-core")
        for script in ("Bengali", "Tamil", "Telugu", "Gujarati", "Gurmukhi", "Kannada",
                       "Malayalam", "Sinhala", "Khmer", "Lao", "Myanmar", "Georgian",
                       "Armenian", "Ethiopic")
    ),
    # general fallbacks after the script fonts: DejaVu also has Arabic/Hebrew glyphs,
    # but the Noto script fonts are the better design for those
    FontSpec("DejaVuSans.ttf", "fonts-dejavu-core"),
    FontSpec("LiberationSans-Regular.ttf", "fonts-liberation"),
    FontSpec("wqy-zenhei.ttc", "fonts-wqy-zenhei", 0),
    FontSpec("wqy-microhei.ttc", "fonts-wqy-microhei", 0),
    FontSpec("DroidSansFallbackFull.ttf", "fonts-droid-fallback"),
)
BOLD_CHAIN = (
    FontSpec("NotoSans-Bold.ttf", "fonts-noto-core"),
    FontSpec("NotoSansArabic-Bold.ttf", "fonts-noto-core"),
    FontSpec("NotoSansHebrew-Bold.ttf", "fonts-noto-core"),
    FontSpec("NotoSansDevanagari-Bold.ttf", "fonts-noto-core"),
    FontSpec("NotoSansThai-Bold.ttf", "fonts-noto-core"),
    FontSpec("DejaVuSans-Bold.ttf", "fonts-dejavu-core"),
    FontSpec("LiberationSans-Bold.ttf", "fonts-liberation"),
    *REGULAR_CHAIN,
)


class Font:
    """A usable font: a registered ReportLab font plus its coverage and metrics."""

    def __init__(self, name: str, ttf: TTFont | None, path: str | None, subfont: int = 0):
        self.name = name
        self.ttf = ttf
        self.path = path
        self.subfont = subfont
        if ttf is not None:
            # a snapshot: shaping later adds private-use aliases to the live map, and a
            # code point mapped to glyph 0 is .notdef, i.e. not covered
            self.cmap: dict[int, int] | None = {
                cp: gid for cp, gid in ttf.face.charToGlyph.items() if gid
            }
            self.ascent = ttf.face.ascent / 1000
            self.descent = ttf.face.descent / 1000
        else:
            self.cmap = None
            self.ascent, self.descent = 0.718, -0.207  # Helvetica
        self._hb_font: uharfbuzz.Font | None = None

    @property
    def embedded(self) -> bool:
        return self.ttf is not None

    @property
    def embedded_ttf(self) -> TTFont:
        """The TrueType font of an embedded font (callers check `embedded` first)."""
        if self.ttf is None:
            raise TypeError(f"{self.name} is a base-14 font, not an embedded TrueType font")
        return self.ttf

    def covers(self, ch: str) -> bool:
        if self.cmap is not None:
            return ord(ch) in self.cmap
        try:  # base-14 Helvetica: WinAnsi repertoire only
            ch.encode("cp1252")
        except UnicodeEncodeError:
            return False
        return ch.isprintable()

    def hb_font(self) -> uharfbuzz.Font:
        """The HarfBuzz font for shaping (loaded on first use)."""
        if self._hb_font is None:
            blob = uharfbuzz.Blob.from_file_path(self.path)
            self._hb_font = uharfbuzz.Font(uharfbuzz.Face(blob, self.subfont))
        return self._hb_font

    def __repr__(self) -> str:
        return f"Font({self.name!r}, {self.path!r})"


_HELVETICA = Font("Helvetica", None, None)
_HELVETICA_BOLD = Font("Helvetica-Bold", None, None)


def search_dirs() -> list[Path]:
    """Directories searched for fonts (``BADGE_FONT_DIRS`` replaces the defaults)."""
    env = os.environ.get(FONT_DIRS_ENV)
    dirs = env.split(os.pathsep) if env is not None else list(STANDARD_DIRS)
    return [Path(d).expanduser() for d in dirs if d]


@lru_cache(maxsize=8)
def _index(dirs: tuple[Path, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for d in dirs:
        if not d.is_dir():
            continue
        for root, _subdirs, files in os.walk(d):
            for f in files:
                found.setdefault(f, os.path.join(root, f))
    return found


_loaded: dict[tuple[str, int], Font | None] = {}


def _load(spec: FontSpec, index: dict[str, str]) -> Font | None:
    path = index.get(spec.file)
    if path is None:
        return None
    key = (path, spec.subfont)
    if key not in _loaded:
        name = f"badge-{Path(path).stem}-{spec.subfont}"
        try:
            ttf = TTFont(name, path, subfontIndex=spec.subfont)
            pdfmetrics.registerFont(ttf)
            _loaded[key] = Font(name, ttf, path, spec.subfont)
        except (TTFError, OSError) as exc:  # e.g. a CFF-flavoured .otf renamed .ttf
            log.warning("cannot use font %s: %s", path, exc)
            _loaded[key] = None
    return _loaded[key]


class FontChain:
    """The ordered fonts available for one weight; fonts are loaded on first need."""

    def __init__(self, specs: tuple[FontSpec, ...], fallback: Font, dirs: tuple[Path, ...]):
        self.specs = specs
        self.fallback = fallback
        self.index = _index(dirs)
        self._first: dict[str, Font | None] = {}

    def _iter_fonts(self) -> Iterator[Font]:
        for spec in self.specs:
            f = _load(spec, self.index)
            if f is not None:
                yield f
        yield self.fallback

    def first_covering(self, ch: str) -> Font | None:
        """First font in the chain whose cmap has ``ch`` (``None``: nothing has it)."""
        try:
            return self._first[ch]
        except KeyError:
            pass
        found = None
        for f in self._iter_fonts():
            if f.covers(ch):
                found = f
                break
        self._first[ch] = found
        return found

    @property
    def primary(self) -> Font:
        for f in self._iter_fonts():
            return f
        return self.fallback


@lru_cache(maxsize=8)
def _chains(dirs: tuple[Path, ...]) -> tuple[FontChain, FontChain]:
    return (
        FontChain(REGULAR_CHAIN, _HELVETICA, dirs),
        FontChain(BOLD_CHAIN, _HELVETICA_BOLD, dirs),
    )


@lru_cache(maxsize=8)
def _chains_for(env: str | None) -> tuple[FontChain, FontChain]:
    # keyed by the raw variable so chain() avoids building Path objects on every call
    return _chains(tuple(search_dirs()))


def chain(bold: bool = False) -> FontChain:
    """The font chain for the current search directories."""
    regular, bold_chain = _chains_for(os.environ.get(FONT_DIRS_ENV))
    return bold_chain if bold else regular


def missing_fonts_hint() -> str | None:
    """The command installing the badge fonts, or ``None`` when all are present.

    The app prints this at startup so an operator sees why Chinese names are missing
    instead of discovering it on printed badges.
    """
    index = _index(tuple(search_dirs()))
    needed = ("NotoSans-Regular.ttf", "NotoSansArabic-Regular.ttf",
              "NotoSansDevanagari-Regular.ttf", "NotoSansHebrew-Regular.ttf",
              "NotoSansThai-Regular.ttf", "wqy-zenhei.ttc")
    if all(f in index for f in needed):
        return None
    return "apt-get install " + " ".join(DEBIAN_PACKAGES)

