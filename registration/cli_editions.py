"""`flask --app wsgi editions …`, and the `--edition SLUG` option every command that works
on a forum's records takes (defaulting to the current edition)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import date
from typing import Any, NoReturn

import click

from .cli_base import CommandGroup
from .text import counted

editions_group = CommandGroup("editions", help="Editions of the forum (one per year).")


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    raise SystemExit(1)


def edition_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add `--edition SLUG` (default: the current edition) and run the command inside that
    edition's scope. Put it right under the `@group.command(...)` line."""

    @click.option("--edition", "edition_slug", metavar="SLUG", default=None,
                  help="The edition to work on (default: the current one).")
    @functools.wraps(command)
    def wrapper(*args: Any, edition_slug: str | None = None, **kwargs: Any) -> Any:
        from .editions import EditionError, edition_scope, marked_current, require_edition

        try:
            edition = require_edition(edition_slug) if edition_slug else marked_current()
        except EditionError as exc:
            _fail(str(exc))
        if edition is None:
            _fail("No edition: run flask --app wsgi db upgrade first.")
        with edition_scope(edition):
            return command(*args, **kwargs)

    return wrapper


def _date(value: str, name: str) -> date:
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    _fail(f"{name} must be a date as YYYY-MM-DD, got {value!r}.")


@editions_group.command("list")
def list_editions() -> None:
    """Every edition, with its dates and number of delegates; * marks the current one."""
    from .services.editions import editions_with_counts

    for edition, count in editions_with_counts():
        mark = "*" if edition.is_current else " "
        purged = "  (purged)" if edition.purged_at else ""
        click.echo(f"{mark} {edition.slug:<12} {edition.starts_on} – {edition.ends_on}  "
                   f"{count:>6} delegates  {edition.name_en}{purged}")


@editions_group.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The edition's name in English.")
@click.option("--name-zh", default="", help="The edition's name in Chinese.")
@click.option("--starts", required=True, metavar="YYYY-MM-DD")
@click.option("--ends", required=True, metavar="YYYY-MM-DD")
@click.option("--copy-from", metavar="SLUG",
              help="Copy settings, checkpoints and zones (never people) from this edition.")
def create_edition(slug: str, name: str, name_zh: str, starts: str, ends: str,
                   copy_from: str | None) -> None:
    """Create an edition (it becomes current only with set-current)."""
    from .editions import EditionError
    from .services import editions as service

    try:
        edition = service.create_edition(slug, name, _date(starts, "--starts"),
                                         _date(ends, "--ends"), name_zh=name_zh,
                                         copy_from=copy_from)
    except EditionError as exc:
        _fail(str(exc))
    source = f", copied from {copy_from}" if copy_from else ""
    click.echo(f"Edition {edition.slug} created ({edition.starts_on} – {edition.ends_on}"
               f"{source}). Make it current with: flask --app wsgi editions set-current "
               f"{edition.slug}")


@editions_group.command("set-current")
@click.argument("slug")
def set_current(slug: str) -> None:
    """Make SLUG the edition the public pages, check-in and API answer for."""
    from .editions import EditionError
    from .services import editions as service

    try:
        edition = service.set_current(slug)
    except EditionError as exc:
        _fail(str(exc))
    click.echo(f"{edition.slug} is now the current edition.")


@editions_group.command("purge")
@click.argument("slug")
@click.option("--force", is_flag=True, help="Purge even before the retention date.")
def purge(slug: str, force: bool) -> None:
    """Erase the personal data of a past edition (delegates, photos, mail, invitations,
    focal points, Notes Verbales, visa letters' holders, vetting questions, watchlist)."""
    from .editions import EditionError
    from .services import editions as service

    try:
        counts = service.purge_edition(slug, force=force)
    except EditionError as exc:
        _fail(str(exc))
    total = sum(counts.values())
    click.echo(f"Purged {slug}: {counted(total, 'record')} touched ("
               + ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items())
               + ").")


def _categories_option(value: str, name: str, *, allow_all: bool) -> list[str]:
    """"government,expert" / "none" (/ "all") as category keys; exits 1 on anything else."""
    from .fields import CATEGORIES

    words = [w.strip().lower() for w in value.split(",") if w.strip()]
    if allow_all and words == ["all"]:
        return list(CATEGORIES)
    keys = [] if words == ["none"] else words
    unknown = [w for w in keys if w not in CATEGORIES]
    if unknown or not words:
        _fail(f"Unknown category {', '.join(unknown) or repr(value)} for {name}: use "
              f"{', '.join(CATEGORIES)} (comma-separated){', all' if allow_all else ''} "
              "or none.")
    return [k for k in CATEGORIES if k in keys]


ON_OFF = click.Choice(["on", "off"], case_sensitive=False)


@editions_group.command("settings")
@click.argument("slug", required=False)
@click.option("--invitation-only", "invitation_only", metavar="CATEGORY[,CATEGORY…]|none",
              default=None, help="Categories only reachable by invitation; `none` opens all.")
@click.option("--identity", metavar="all|none|CATEGORY[,CATEGORY…]", default=None,
              help="Categories that must give identity (travel document) data.")
@click.option("--vetting", type=ON_OFF, default=None,
              help="Badges print and doors admit only delegates cleared by vetting.")
@click.option("--photo-required", "photo_required", type=ON_OFF, default=None,
              help="Accreditation waits for a badge photo.")
def settings(slug: str | None, invitation_only: str | None, identity: str | None,
             vetting: str | None, photo_required: str | None) -> None:
    """Show (and change) an edition's registration settings: which categories are open to
    the public and which by invitation only, who gives identity data, vetting and photos.
    SLUG defaults to the current edition."""
    from .editions import EditionError, marked_current, require_edition
    from .fields import CATEGORIES
    from .services.edition_settings import save_settings

    try:
        edition = require_edition(slug) if slug else marked_current()
    except EditionError as exc:
        _fail(str(exc))
    if edition is None:
        _fail("No edition: run flask --app wsgi db upgrade first.")
    values: dict[str, object] = {}
    if invitation_only is not None:
        values["invitation_only"] = _categories_option(invitation_only, "--invitation-only",
                                                       allow_all=False)
    if identity is not None:
        values["identity_categories"] = _categories_option(identity, "--identity",
                                                           allow_all=True)
    if vetting is not None:
        values["vetting_required"] = vetting.lower() == "on"
    if photo_required is not None:
        values["photo_required"] = photo_required.lower() == "on"
    if values:
        save_settings(edition, values)
    closed = set(edition.invitation_only or [])
    identity_keys = set(edition.identity_categories or [])
    click.echo(f"Edition {edition.slug}:")
    for key in CATEGORIES:
        click.echo(f"  {key:<12} {'invitation only' if key in closed else 'open':<16} "
                   f"{'identity required' if key in identity_keys else 'no identity data'}")
    click.echo(f"  vetting        {'on' if edition.vetting_required else 'off'}")
    click.echo(f"  photo required {'on' if edition.photo_required else 'off'}")


commands = [editions_group]
