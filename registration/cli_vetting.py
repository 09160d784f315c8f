"""`flask --app wsgi vetting …`: the batch exchange of files with the vetting service
(services/vetting_exchange.py)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from .cli_base import CommandGroup
from .cli_editions import edition_option
from .text import counted

vetting_group = CommandGroup("vetting", help="Security vetting: exchange files with the "
                                                 "vetting service.")

STATUS_CHOICES = ("pending", "more_info", "incomplete", "cleared", "rejected", "all")


@vetting_group.command("export")
@edition_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="The CSV file to write.")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUS_CHOICES),
              default=("pending",), show_default=True,
              help="Vetting statuses to export (repeat the option; `all` for everyone).")
def export_command(output: Path, statuses: tuple[str, ...]) -> None:
    """Write the records to vet as CSV: reference, names (both scripts), date of birth,
    nationality, document fields, organisation, position, delegation, category."""
    from .models import VettingStatus
    from .services import vetting_exchange

    chosen = () if "all" in statuses else tuple(VettingStatus(s) for s in statuses)
    started = time.perf_counter()
    try:
        with output.open("wb") as out:
            count = vetting_exchange.export(out, chosen)
    except OSError as exc:
        click.echo(f"Error: cannot write {output}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    click.echo(f"{counted(count, 'delegate')} written to {output} "
               f"[{time.perf_counter() - started:.1f} s]. It holds identity data in clear: "
               f"send it only to the vetting service and delete it afterwards.")


@vetting_group.command("import")
@edition_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def import_command(file: Path) -> None:
    """Apply the vetting service's answers (columns reference,decision,note; decision
    cleared|rejected|more_info): all rows or none, with a per-row report."""
    from .services import vetting_exchange

    started = time.perf_counter()
    try:
        data = file.read_bytes()
    except OSError as exc:
        click.echo(f"Error: cannot read {file}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    report = vetting_exchange.import_file(data)
    for error in report.errors:
        click.echo(f"row {error.row}: {error.field or '-'}: {error.message}", err=True)
    summary = report.summary() + f" [{time.perf_counter() - started:.1f} s]"
    if not report.ok:
        click.echo(summary, err=True)
        sys.exit(1)
    click.echo(summary)


commands = [vetting_group]
