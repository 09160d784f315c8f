"""`flask --app wsgi printers …`: add, list, remove and test badge printers."""

from __future__ import annotations

import click

from ..cli_base import CommandGroup
from ..cli_editions import edition_option
from ..models import PrintJobState
from ..services import printers as printer_service

printers_group = CommandGroup("printers", help="Badge printers reached over IPP.")


@printers_group.command("add")
@edition_option
@click.argument("name")
@click.argument("uri")
@click.option("--layout", required=True, type=click.Choice(printer_service.PRINTER_LAYOUTS),
              help="The badge layout this printer takes (its media).")
def add(name: str, uri: str, layout: str) -> None:
    """Register printer NAME at IPP address URI (ipp://host:631/ipp/print or a CUPS queue,
    ipp://cups-host:631/printers/badge1)."""
    try:
        printer = printer_service.add(name, uri, layout)
    except printer_service.PrinterError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Printer {printer.name!r} added: {printer.uri} ({printer.layout}).")


@printers_group.command("list")
@edition_option
def list_() -> None:
    """Printers with the state they report now."""
    rows = printer_service.list_printers()
    if not rows:
        click.echo("No printers. Add one with: flask --app wsgi printers add NAME URI "
                   "--layout a6")
    for printer in rows:
        row = printer_service.status_row(printer)
        reasons = f" ({row['reasons_label']})" if row["reasons"] else ""
        click.echo(f"{printer.name}\t{printer.uri}\t{printer.layout}\t{row['state']}{reasons}")


@printers_group.command("remove")
@edition_option
@click.argument("name")
def remove(name: str) -> None:
    """Remove printer NAME."""
    try:
        printer_service.remove(name)
    except printer_service.PrinterError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Printer {name!r} removed.")


@printers_group.command("test")
@edition_option
@click.argument("name")
@click.option("--timeout", default=60.0, show_default=True,
              help="Seconds to wait for the printer to finish the job.")
def test(name: str, timeout: float) -> None:
    """Print a test badge on printer NAME and wait until the printer reports it done."""
    printer = printer_service.find(name)
    if printer is None:
        raise click.ClickException(f"No printer named {name!r}.")
    try:
        job = printer_service.test_print(printer)
    except printer_service.PrinterError as exc:
        raise click.ClickException(exc.message) from None
    job = printer_service.wait(job, timeout)
    if job.state == PrintJobState.COMPLETED.value:
        click.echo(f"Test badge printed on {printer.name!r} (IPP job {job.ipp_job_id}).")
        return
    info = printer_service.job_json(job)
    if job.state == PrintJobState.FAILED.value:
        raise click.ClickException(f"Test print failed: {info['message']}")
    raise click.ClickException(f"The printer has not finished the test job after {timeout:g} s"
                               f"{': ' + info['message'] if info['message'] else ''}.")


commands = [printers_group]
