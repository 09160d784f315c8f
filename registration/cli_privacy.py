"""`flask --app wsgi privacy …`: the data encryption key and the retention of identity data.

    privacy new-key                         print a fresh DATA_ENCRYPTION_KEY
    privacy rotate-key                      re-encrypt everything with the current key
    privacy purge-identity [--edition SLUG] [--force]
"""

from __future__ import annotations

import click

from .cli_base import CommandGroup
from .cli_editions import _fail
from .text import counted

privacy_group = CommandGroup("privacy", help="Encryption keys and retention of identity data.")
CLI_ACTOR = "cli"


@privacy_group.command("new-key")
def new_key_command() -> None:
    """Print a new data encryption key (32 random bytes, base64url). Nothing is changed:
    set it as DATA_ENCRYPTION_KEY (the old key moves to DATA_ENCRYPTION_OLD_KEYS), restart,
    then run `privacy rotate-key`."""
    from .data_crypto import new_key

    click.echo(new_key())


@privacy_group.command("rotate-key")
def rotate_key_command() -> None:
    """Re-encrypt every encrypted value (identity data, watchlists, …) with the current
    DATA_ENCRYPTION_KEY and recompute the keyed hashes. Values written with a key listed in
    DATA_ENCRYPTION_OLD_KEYS are read; afterwards that key is no longer needed."""
    from .data_crypto import DataKeyError
    from .services.data_keys import rotate

    try:
        report = rotate(actor=CLI_ACTOR)
    except DataKeyError as exc:
        _fail(f"{exc}. Nothing was changed.")
    click.echo(f"Current key {report.key_id}: {counted(report.total, 'value')} re-encrypted, "
               f"{counted(sum(report.hashes.values()), 'keyed hash', 'keyed hashes')} "
               "recomputed.")
    for table, rows in report.rows.items():
        done = {k.split(".", 1)[1]: v for k, v in report.reencrypted.items()
                if k.startswith(table + ".")}
        detail = ", ".join(f"{k} {v}" for k, v in done.items()) or "all current"
        click.echo(f"  {table:<20} {counted(rows, 'row')}: {detail}")


@privacy_group.command("purge-identity")
@click.option("--edition", "slug", metavar="SLUG", default=None,
              help="The edition (default: the current one).")
@click.option("--force", is_flag=True,
              help="Purge even though the edition has not ended yet.")
def purge_identity_command(slug: str | None, force: bool) -> None:
    """Delete the identity data (travel documents, dates of birth) of an edition's
    delegates now; the periodic sweep does it `identity_retention_days` after the edition's
    last day. Audited with the count."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from .editions import EditionError, marked_current, require_edition
    from .services.identity import purge_identity

    try:
        edition = require_edition(slug) if slug else marked_current()
    except EditionError as exc:
        _fail(str(exc))
    if edition is None:
        _fail("No edition: run flask --app wsgi db upgrade first.")
    if not force and edition.ends_on >= datetime.now(ZoneInfo(edition.timezone or "UTC")).date():
        _fail(f"{edition.slug} has not ended yet (last day {edition.ends_on}): vetting still "
              "needs its identity data. Use --force to purge it anyway.")
    report = purge_identity(edition, actor=CLI_ACTOR)
    click.echo(f"Identity data of {counted(report.delegates, 'delegate')} of {edition.slug} "
               "deleted; also cleared: the holder's passport number and date of birth on "
               f"{counted(report.visa_letters, 'visa letter')}, "
               f"{counted(report.vetting_requests, 'vetting question')} with the answers, "
               f"{counted(report.vetting_notes, 'vetting note')}, "
               f"{counted(report.watchlist_entries, 'watchlist entry', 'watchlist entries')} "
               f"and {counted(report.watchlist_hits, 'watchlist match', 'watchlist matches')}.")


commands = [privacy_group]
