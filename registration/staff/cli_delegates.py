"""`flask --app wsgi delegates import|export` and `flask --app wsgi badges print`."""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path

import click

from ..cli_base import CommandGroup
from ..cli_editions import edition_option
from ..fields import CATEGORY_KEYS
from ..models import Printer, Status
from ..services import delegate_export, delegate_import, print_batches, printing
from ..services import printers as printer_service
from ..services.admission import nothing_to_print
from ..services.selection import BatchFilter
from ..text import counted

delegates_group = CommandGroup("delegates", help="Import and export delegates (CSV or XLSX).")
badges_group = CommandGroup("badges", help="Print badges in bulk.")

CLI_ACTOR = "cli"
category_option = click.option("--category", "categories", multiple=True,
                               type=click.Choice(CATEGORY_KEYS),
                               help="Only this category (repeatable).")
status_option = click.option("--status", "statuses", multiple=True,
                             type=click.Choice([s.value for s in Status]),
                             help="Only this status (repeatable).")


def _format(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in ("csv", "xlsx"):
        raise click.BadParameter("the file name must end in .csv or .xlsx", param_hint="FILE")
    return suffix


@delegates_group.command("import")
@edition_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--approve", is_flag=True, help="Accredit the imported delegates at once.")
def import_command(file: Path, approve: bool) -> None:
    """Import FILE (.csv or .xlsx): all rows or none. Exit status 1 if nothing was imported
    because of errors."""
    _format(file)
    started = time.perf_counter()
    report = delegate_import.import_file(file.read_bytes(), file.name, None, approve=approve,
                                  actor=CLI_ACTOR)
    for error in report.errors:
        click.echo(f"row {error.row}: {error.field or '-'}: {error.message}", err=True)
    for skipped in report.skipped:
        click.echo(f"row {skipped['row']}: {skipped['email']}: already imported "
                   f"({skipped['reference']}) — skipped")
    summary = report.summary() + f" [{time.perf_counter() - started:.1f} s]"
    if not report.ok:
        click.echo(summary, err=True)
        sys.exit(1)
    click.echo(summary)


def _delegation_id(name: str) -> int | None:
    """The id of the delegation called NAME ("" → None); exits 1 if there is none."""
    if not name.strip():
        return None
    from ..services.delegations import find

    found = find(name)
    if found is None:
        click.echo(f"Error: there is no delegation called {name!r} in this edition.",
                   err=True)
        sys.exit(1)
    return found.id


@delegates_group.command("export")
@edition_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="FILE.csv or FILE.xlsx")
@category_option
@status_option
@click.option("--delegation", default="", metavar="NAME",
              help="Only the delegates of this delegation (its English name).")
@click.option("--reveal-identity", is_flag=True,
              help="Write dates of birth and document numbers in clear (default: masked).")
def export_command(output: Path, categories: tuple[str, ...], statuses: tuple[str, ...],
                   delegation: str, reveal_identity: bool) -> None:
    """Export delegates (optionally filtered) to a CSV or XLSX file."""
    fmt = _format(output)
    selection = BatchFilter(categories=categories, statuses=statuses,
                                     delegation_id=_delegation_id(delegation))
    with open(output, "wb") as out:
        count = delegate_export.export(selection, fmt, out, reveal_identity=reveal_identity)
    delegate_export.record_export(None, fmt, count, {"category": list(categories),
                                              "status": list(statuses),
                                              "delegation": delegation,
                                              "identity_in_clear": reveal_identity},
                                  actor=CLI_ACTOR)
    click.echo(f"{counted(count, 'delegate')} written to {output}")


@badges_group.command("print")
@edition_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="FILE.pdf (or --printer)")
@click.option("--printer", "printer_name", default=None,
              help="Send the badges to this printer (see `printers list`) instead of a file; "
                   "its layout is used.")
@category_option
@status_option
@click.option("--unprinted", is_flag=True, help="Only badges not printed yet.")
@click.option("--layout", type=click.Choice(printing.LAYOUT_KEYS), default="a4-4up",
              show_default=True)
@click.option("--sort", type=click.Choice(tuple(printing.SORTS)), default="category",
              show_default=True, help="Handing-out order.")
@click.option("--workers", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Processes rendering in parallel (2 uses both cores of a 2-core machine).")
@click.option("--delegation", default="", metavar="NAME",
              help="One delegation's badges, head of delegation first, then a cover sheet.")
def print_command(output: Path | None, printer_name: str | None, categories: tuple[str, ...],
                  statuses: tuple[str, ...], unprinted: bool, layout: str, sort: str,
                  workers: int, delegation: str) -> None:
    """Print the accredited delegates' badges into one PDF (or on a printer) and mark them
    printed."""
    if (output is None) == (printer_name is None):
        raise click.UsageError("Give either -o FILE.pdf or --printer NAME.")
    if delegation.strip():
        if output is None:
            raise click.UsageError("--delegation prints to a file (-o FILE.pdf): the cover "
                                   "sheet goes with the badges to the liaison officer.")
        _print_delegation(output, delegation, layout, unprinted)
        return
    printer = printer_service.find(printer_name) if printer_name is not None else None
    if printer_name is not None and printer is None:
        raise click.ClickException(f"No printer named {printer_name!r}.")
    selection = BatchFilter(categories=categories, statuses=statuses)
    total = len(printing.batch_ids(selection, sort=sort, unprinted=unprinted))
    if total == 0:
        click.echo(f"{nothing_to_print(selection, unprinted=unprinted)} Nothing printed.",
                   err=True)
        sys.exit(1)
    if printer is not None:
        print_to_printer(selection, printer, total, sort=sort, unprinted=unprinted)
    elif output is not None:  # always, when there is no printer (checked above)
        _print_to_file(output, selection, total, layout, sort=sort, unprinted=unprinted,
                       workers=workers)


def _print_to_file(output: Path, selection: BatchFilter, total: int, layout: str,
                   *, sort: str, unprinted: bool, workers: int) -> None:
    started = time.perf_counter()
    tmp = output.with_name(output.name + ".part")
    try:
        with open(tmp, "wb") as out, click.progressbar(length=total, label="Badges",
                                                       file=sys.stderr) as bar:
            last = [0]

            def progress(done: int, _total: int) -> None:
                bar.update(done - last[0])
                last[0] = done

            count = printing.print_batch(selection, None, layout, out, progress, sort=sort,
                                         unprinted=unprinted, actor=CLI_ACTOR,
                                         workers=workers)
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)
    click.echo(f"{counted(count, 'badge')} written to {output} and marked printed "
               f"({time.perf_counter() - started:.1f} s)")


def _print_delegation(output: Path, name: str, layout: str, unprinted: bool) -> None:
    from ..services import delegations
    from ..services.delegation_print import print_delegation

    found = delegations.get(_delegation_id(name) or 0)
    if found is None:
        sys.exit(1)
    tmp = output.with_name(output.name + ".part")
    try:
        with open(tmp, "wb") as out:
            count = print_delegation(found, None, layout, out, actor=CLI_ACTOR,
                                     unprinted=unprinted)
        if count == 0:
            click.echo(f"No accredited delegate of {found.name_en}; nothing printed.",
                       err=True)
            sys.exit(1)
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)
    click.echo(f"{counted(count, 'badge')} of {found.name_en} (head of delegation first) "
               f"and a cover sheet written to {output}; badges marked printed.")


def print_to_printer(selection: BatchFilter, printer: Printer, total: int, *,
                     sort: str, unprinted: bool) -> None:
    """`badges print --printer`: chunks go to the printer as they render; each chunk's
    badges are marked printed when the printer reports it completed."""
    started = time.perf_counter()
    batch = f"cli-{secrets.token_hex(8)}"
    with click.progressbar(length=total, label="Rendered", file=sys.stderr) as bar:
        last = [0]

        def rendered(done: int, _total: int) -> None:
            bar.update(done - last[0])
            last[0] = done

        try:
            jobs = print_batches.send_batch(selection, printer, None, batch=batch, sort=sort,
                                            unprinted=unprinted, actor=CLI_ACTOR,
                                            progress=rendered)
        except printer_service.PrinterError as exc:
            raise click.ClickException(exc.message) from None
    print_batches.wait_all(jobs)
    state = print_batches.progress_json(batch)
    took = time.perf_counter() - started
    if state["printed"] < total:
        why = (state["message"] or "the printer has not finished").rstrip(".")
        raise click.ClickException(
            f"{state['printed']} of {total} badges printed on {printer.name!r} "
            f"({took:.1f} s): {why}. The rest are not marked printed.")
    click.echo(f"{counted(total, 'badge')} printed on {printer.name!r} and marked printed "
               f"({took:.1f} s)")


commands = [delegates_group, badges_group]
