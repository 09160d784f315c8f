"""`flask --app wsgi watchlist …`: import an agency's watchlist, see it, match, clear it.

The hits are reviewed by the vetting role on /staff/vetting/watchlist; nothing here shows
the entries themselves (they are encrypted at rest and stay off the terminal's history).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from .cli_base import CommandGroup
from .cli_editions import edition_option
from .text import counted

watchlist_group = CommandGroup("watchlist", help="Watchlists: matches are flagged for vetting.")
CLI_ACTOR = "cli"


@watchlist_group.command("import")
@edition_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True,
              help="Remove the edition's watchlist (and its matches) before importing.")
def import_command(file: Path, replace: bool) -> None:
    """Import FILE (CSV UTF-8 with the columns family_name, given_name, date_of_birth,
    nationality, document_number, note): all rows or none, then match every delegate
    again. Exit status 1 if nothing was imported because of errors."""
    from .services.watchlist import entries

    if file.suffix.lower() != ".csv":
        raise click.BadParameter("the file name must end in .csv", param_hint="FILE")
    started = time.perf_counter()
    report = entries.import_watchlist(file.read_bytes(), file.name, None, replace=replace,
                                      actor=CLI_ACTOR)
    for error in report.errors:
        click.echo(f"row {error.row}: {error.field or '-'}: {error.message}", err=True)
    summary = report.summary() + f" [{time.perf_counter() - started:.1f} s]"
    if not report.ok:
        click.echo(summary, err=True)
        sys.exit(1)
    if report.replaced:
        click.echo(f"{counted(report.replaced, 'earlier entry', 'earlier entries')} removed first.")
    click.echo(summary)


@watchlist_group.command("list")
@edition_option
def list_command() -> None:
    """The edition's watchlist files (entries per file) and its matches by state."""
    from .services.watchlist import entries, hits

    files = entries.sources()
    if not files:
        click.echo("No watchlist in this edition.")
    for source, count in files:
        click.echo(f"{count:6d}  {source or '(no file name)'}")
    click.echo(f"{counted(entries.entry_count(), 'entry', 'entries')}; matches: " + ", ".join(
        f"{state.value} {n}" for state, n in hits.counts().items()))


@watchlist_group.command("match")
@edition_option
def match_command() -> None:
    """Match every delegate against the watchlist again (new matches only)."""
    from .services.watchlist import entries, rematch_all

    if not entries.entry_count():
        click.echo("No watchlist in this edition: nothing to match.")
        return
    started = time.perf_counter()
    count = rematch_all(actor=CLI_ACTOR)
    click.echo(f"{counted(count, 'new match', 'new matches')} to review "
               f"[{time.perf_counter() - started:.1f} s]")


@watchlist_group.command("clear")
@edition_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def clear_command(yes: bool) -> None:
    """Remove the edition's watchlist and its matches (reviewed ones too)."""
    from .extensions import db
    from .services import audit
    from .services.watchlist import entries

    count = entries.entry_count()
    if not count:
        click.echo("No watchlist in this edition.")
        return
    if not yes and not click.confirm(f"Remove {count} watchlist entries and their matches?"):
        click.echo("Nothing removed.", err=True)
        sys.exit(1)
    removed = entries.clear()
    audit.record(None, "watchlist_cleared", actor=CLI_ACTOR, entries=removed)
    db.session.commit()
    click.echo(f"{counted(removed, 'watchlist entry', 'watchlist entries')} removed, with their "
               "matches.")


commands = [watchlist_group]
