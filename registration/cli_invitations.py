"""`flask --app wsgi invitations …`: personal registration links (services/invitations.py)."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import click

from .cli_base import CommandGroup
from .cli_editions import _date, edition_option
from .text import counted

invitations_group = CommandGroup("invitations", help="Personal invitations to register.")
STATES = ("sent", "opened", "registered", "expired", "revoked")


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    raise SystemExit(1)


@invitations_group.command("create")
@edition_option
@click.argument("email")
@click.option("--category", required=True, help="The category the invitee registers in.")
@click.option("--delegation", default="", metavar="NAME",
              help="The delegation the invitee joins (its English name).")
@click.option("--given-name", default="", help="Filled in on the form.")
@click.option("--family-name", default="", help="Filled in on the form.")
@click.option("--language", default="en", type=click.Choice(["en", "zh"]),
              help="The invitation mail's language.")
@click.option("--expires", metavar="YYYY-MM-DD", default=None,
              help="The last day the link works (edition's time zone).")
@click.option("--approve", is_flag=True, help="Accredit the registration at once.")
def create(email: str, category: str, delegation: str, given_name: str, family_name: str,
           language: str, expires: str | None, approve: bool) -> None:
    """Create an invitation for EMAIL, mail it and print its link."""
    from .services import invitations as service

    try:
        invitation = service.create(
            email, category.strip().lower(),
            prefill={"given_name": given_name, "family_name": family_name}, locale=language,
            expires_on=_date(expires, "--expires") if expires else None, approve=approve,
            delegation=delegation)
    except service.InvitationError as exc:
        _fail(exc.message)
    click.echo(f"Invitation for {invitation.email} ({invitation.category}"
               f"{', accredited on registration' if approve else ''}) mailed. Link:")
    click.echo(service.link(invitation))


@invitations_group.command("import")
@edition_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--approve", is_flag=True, help="Accredit the registrations at once.")
def import_(file: Path, approve: bool) -> None:
    """Create invitations from a CSV/XLSX file (the delegate import's columns plus
    `expires` and `language`). All or nothing."""
    from .services import invitations as service

    report = service.import_file(file.read_bytes(), file.name, approve=approve)
    if report.file_error:
        _fail(f"nothing imported: {report.file_error}")
    if report.errors:
        for row, message in report.errors:
            click.echo(f"row {row}: {message}", err=True)
        _fail(f"nothing imported: {len({r for r, _m in report.errors})} of {report.rows} "
              "rows have errors.")
    click.echo(f"{counted(len(report.created), 'invitation')} created and mailed.")


@invitations_group.command("list")
@edition_option
@click.option("--status", type=click.Choice(STATES), default=None)
def list_(status: str | None) -> None:
    """Every invitation of the edition with its state, newest first."""
    from .services import delegations
    from .services import invitations as service

    rows = service.listing(status or "")
    names = {d.id: d.name_en for d in delegations.all_delegations()}
    for invitation, state in rows:
        expires = invitation.expires_on.isoformat() if invitation.expires_on else "-"
        delegation = names.get(invitation.delegation_id or 0)
        click.echo(f"{state.value:<10} {invitation.email:<40} {invitation.category:<12} "
                   f"expires {expires}{'  approve' if invitation.approve else ''}"
                   f"{f'  delegation: {delegation}' if delegation else ''}")
    click.echo(f"{counted(len(rows), 'invitation')}.")


@invitations_group.command("revoke")
@edition_option
@click.argument("email")
def revoke(email: str) -> None:
    """Withdraw the unused invitations of EMAIL: their links stop working."""
    from .services import invitations as service

    found = service.for_email(email)
    if not found:
        _fail(f"No invitation for {email} in this edition.")
    usable = [i for i in found if i.status in ("sent", "opened")]
    if not usable:
        _fail(f"{email} has no unused invitation to revoke.")
    for invitation in usable:
        service.revoke(invitation)
    click.echo(f"Revoked {counted(len(usable), 'invitation')} for {email}.")


commands = [invitations_group]
