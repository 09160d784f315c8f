"""Vetting benchmarks (issue 15), on SQLite or PostgreSQL: ``python bench/vetting.py``.

Runs each part in its own script, so each can also be run alone:

* ``export``    — bench/vetting_exchange.py: a 5,000-row vetting export and import through
  the CLI (target: each < 5 s);
* ``watchlist`` — bench/vetting_watchlist.py: a 10,000-entry watchlist matched against
  5,000 delegates (target: < 10 s).

Every part creates a fresh schema in the given database (its public schema is DROPPED on
PostgreSQL: give it a database the bench may own).

    python bench/vetting.py [--part export|watchlist|all] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_vetting]

Registration throughput with identity fields is bench/register.py --identity.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = {"export": "vetting_exchange.py", "watchlist": "vetting_watchlist.py"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--part", choices=[*PARTS, "all"], default="all")
    args = parser.parse_args()
    status = 0
    for name, script in PARTS.items():
        if args.part not in (name, "all"):
            continue
        command = [sys.executable, str(HERE / script)]
        if args.database_url:
            command += ["--database-url", args.database_url]
        status |= subprocess.call(command)
    return status


if __name__ == "__main__":
    sys.exit(main())
