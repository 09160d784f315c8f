"""`flask --app wsgi delegations …`: delegations, their quotas and focal points
(services/delegations.py)."""

from __future__ import annotations

from typing import NoReturn

import click

from .cli_base import CommandGroup
from .cli_editions import edition_option
from .text import counted

delegations_group = CommandGroup("delegations", help="Delegations, quotas and focal points.")
KINDS = ("government", "organisation", "ngo", "institution")


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    raise SystemExit(1)


@delegations_group.command("create")
@edition_option
@click.argument("name")
@click.option("--country", required=True, metavar="XX", help="Country or region code.")
@click.option("--kind", type=click.Choice(KINDS), default="government")
@click.option("--name-zh", default="", help="The delegation's name in Chinese.")
@click.option("--focal-point", "focal_points", multiple=True, required=True, metavar="EMAIL",
              help="A focal point's address (repeat for more).")
@click.option("--quota", default="", metavar="CATEGORY=N[,…]",
              help="Places per category, e.g. government=5,expert=2.")
def create(name: str, country: str, kind: str, name_zh: str, focal_points: tuple[str, ...],
           quota: str) -> None:
    """Create a delegation; each focal point is mailed a sign-in link (also printed)."""
    from .services import delegations as service
    from .services import focal_signin

    try:
        delegation, focals = service.create(name, country, kind=kind,
                                            focal_emails=list(focal_points),
                                            quotas=service.parse_quotas(quota),
                                            name_zh=name_zh)
    except service.DelegationError as exc:
        _fail(exc.message)
    quotas = ", ".join(f"{k}={v}" for k, v in delegation.quotas.items()) or "none"
    click.echo(f"Delegation {delegation.name_en} ({delegation.country}, {delegation.kind}) "
               f"created; quotas: {quotas}.")
    for focal in focals:
        click.echo(f"Sign-in link mailed to {focal.email}: {focal_signin.send(focal, delegation)}")


@delegations_group.command("list")
@edition_option
def list_() -> None:
    """Every delegation with its quotas (used/quota) and focal points."""
    from .services import delegations as service

    rows = service.all_delegations()
    for delegation in rows:
        lines = service.quota_lines(delegation)
        quotas = ", ".join(f"{q.category} {q.used}/{q.quota}" for q in lines) or "no quota"
        focals = ", ".join(f.email for f in service.focal_points(delegation))
        head = service.head_of(delegation)
        click.echo(f"{delegation.name_en:<30} {delegation.country} {delegation.kind:<12} "
                   f"{quotas}; focal points: {focals}"
                   f"{'; head: ' + head.reference if head else ''}"
                   f"{'; letter: ' + delegation.letter_name if delegation.letter_name else ''}")
    click.echo(f"{counted(len(rows), 'delegation')}.")


commands = [delegations_group]
