"""`flask --app wsgi visa …`: visa invitation letters (services/visa_letters.py)."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import click

from .cli_base import CommandGroup
from .cli_editions import edition_option
from .text import counted

visa_group = CommandGroup("visa", help="Visa invitation letters.")


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    raise SystemExit(1)


@visa_group.command("letters")
@edition_option
@click.option("--delegation", "delegation_name", default="", metavar="NAME",
              help="Only the letters of this delegation (its English name).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The PDF to write.")
def letters(delegation_name: str, output: Path) -> None:
    """Write every issued visa letter (English and Chinese pages) into one PDF to print."""
    from .editions import current_edition
    from .services import delegations
    from .services import visa_letters as service
    from .services.visa_letter_pdf import letters_pdf

    delegation_id = None
    if delegation_name:
        delegation = delegations.find(delegation_name)
        if delegation is None:
            _fail(f"No delegation {delegation_name!r}. See: flask --app wsgi delegations list")
        delegation_id = delegation.id
    edition = current_edition()
    missing = service.letterhead_missing(edition) if edition is not None else []
    if missing:
        _fail(f"The letterhead is missing: {', '.join(missing)}. Set it on /staff/settings, "
              "under \"Visa invitation letters\", then print the letters.")
    issued = service.issued(delegation_id)
    if not issued:
        _fail("No issued visa letter" + (f" for {delegation_name}." if delegation_name else "."))
    try:
        output.write_bytes(letters_pdf(issued))
    except OSError as exc:
        _fail(f"Cannot write {output}: {exc.strerror}")
    click.echo(f"{counted(len(issued), 'visa letter')} written to {output}.")


commands = [visa_group]
