"""Command line: ``python -m badges sample --csv delegates.csv -o DIR``.

Writes one sample PDF per layout for the delegates in the CSV, with real signed QR
tokens (from a throwaway key), so designers and the print shop can check real output.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

from .batch import render_badges
from .draw import BadgeData, EventInfo
from .fonts import missing_fonts_hint
from .layouts import LAYOUTS

CATEGORY_LABELS = {
    "government": "GOVERNMENT OFFICIAL",
    "expert": "EXPERT",
    "scholar": "SCHOLAR",
    "ngo": "NGO REPRESENTATIVE",
}
SAMPLE_EVENT = EventInfo(
    "Global Public Safety Cooperation Forum", "8\u201310 December 2026 \u00b7 Lianyungang"
)
_REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def reference_for(badge_id: uuid.UUID) -> str:
    """A short human-readable reference (``GPS-XXXX-XXXX``) derived from the badge id."""
    n = badge_id.int >> 88
    chars = "".join(_REF_ALPHABET[(n >> (5 * i)) & 31] for i in range(8))
    return f"GPS-{chars[:4]}-{chars[4:]}"


def _country_names() -> dict[str, str]:
    try:
        from babel import Locale

        return dict(Locale("en").territories)
    except ImportError:  # babel is an app dependency; samples still work without it
        return {}


def read_delegates(csv_path: Path) -> Iterator[BadgeData]:
    """Yield :class:`BadgeData` for each CSV row, with a freshly signed token."""
    from registration import badge_token  # the token format is the app's, not ours

    key = badge_token.generate_private_key()
    countries = _country_names()
    with csv_path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            badge_id = uuid.uuid4()
            code = row["country"].strip().upper()
            yield BadgeData(
                badge_name=f"{row['given_name'].strip()} {row['family_name'].strip()}".strip(),
                honorific=row.get("honorific", "").strip(),
                native_name=row.get("native_name", "").strip(),
                organisation=row.get("organisation", "").strip(),
                country=countries.get(code, code),
                category=row["category"].strip(),
                category_label=CATEGORY_LABELS.get(row["category"].strip(),
                                                   row["category"].upper()),
                qr_payload=badge_token.issue(key, badge_id, 1),
                reference=reference_for(badge_id),
            )


def _sample(args: argparse.Namespace) -> int:
    hint = missing_fonts_hint()
    if hint:
        print(f"warning: some badge fonts are missing; install them with: {hint}",
              file=sys.stderr)
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    delegates = list(read_delegates(Path(args.csv)))
    for name in args.layouts or sorted(LAYOUTS):
        path = out_dir / f"badges-{name}.pdf"
        with path.open("wb") as fh:
            n = render_badges(delegates, SAMPLE_EVENT, name, fh)
        print(f"{path}: {n} badges")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m badges")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sample", help="write a sample PDF per layout from a delegates CSV")
    s.add_argument("--csv", required=True, help="delegates CSV (shared/samples format)")
    s.add_argument("-o", "--output", required=True, help="output directory")
    s.add_argument("--layout", dest="layouts", action="append", choices=sorted(LAYOUTS),
                   help="only this layout (repeatable)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return _sample(args)


if __name__ == "__main__":
    sys.exit(main())
