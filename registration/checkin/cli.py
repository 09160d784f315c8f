"""`flask --app wsgi devices …` and `flask --app wsgi checkpoints …`."""

from __future__ import annotations

import click

from ..cli_base import CommandGroup
from ..cli_editions import edition_option
from ..fields import CATEGORY_KEYS
from ..services import devices as device_service
from ..services import printers as printer_service
from ..services.checkin import CheckinError
from ..services.checkin import checkpoints as checkpoint_service

devices_group = CommandGroup("devices", help="Scanner devices and their API tokens.")
checkpoints_group = CommandGroup("checkpoints", help="Checkpoints (zones) at the doors.")


@devices_group.command("issue")
@edition_option
@click.argument("name")
@click.option("--kiosk", is_flag=True,
              help="A self-service kiosk (prints badges at /kiosk; cannot check in).")
@click.option("--printer", "printer_name", default=None,
              help="The kiosk's printer (a name from `printers list`).")
def issue_device(name: str, kiosk: bool, printer_name: str | None) -> None:
    """Create device NAME and print its token (shown this once only)."""
    printer_id = None
    if printer_name is not None:
        printer = printer_service.find(printer_name)
        if printer is None:
            raise click.ClickException(f"No printer named {printer_name!r}.")
        printer_id = printer.id
    if kiosk and printer_id is None:
        raise click.ClickException("A kiosk needs its printer: --printer NAME.")
    if printer_id is not None and not kiosk:
        raise click.ClickException("--printer is for kiosks: add --kiosk.")
    try:
        device, token = device_service.issue(name, kiosk=kiosk, printer_id=printer_id)
    except device_service.DeviceError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Device {device.name!r} issued. Its token (shown once, store it on the "
               "device now):", err=True)
    click.echo(token)


@devices_group.command("revoke")
@edition_option
@click.argument("name")
def revoke_device(name: str) -> None:
    """Revoke device NAME: its token is refused from now on."""
    try:
        device = device_service.revoke(name)
    except device_service.DeviceError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Device {device.name!r} revoked.")


@devices_group.command("list")
@edition_option
def list_devices() -> None:
    """Devices with their state and when they were last seen."""
    rows = device_service.list_devices()
    if not rows:
        click.echo("No devices.")
    for device in rows:
        state = f"revoked {device.revoked_at:%Y-%m-%d %H:%M}Z" if device.revoked_at else "active"
        seen = f"{device.last_seen_at:%Y-%m-%d %H:%M}Z" if device.last_seen_at else "never"
        kind = ""
        if device.kiosk:
            printer = printer_service.get(device.printer_id) if device.printer_id else None
            kind = f"\tkiosk, printer {printer.name}" if printer else "\tkiosk, no printer"
        click.echo(f"{device.name}\t{state}\tlast seen {seen}{kind}")


@checkpoints_group.command("add")
@edition_option
@click.argument("checkpoint_id")
@click.argument("name")
@click.option("--category", "categories", multiple=True, type=click.Choice(CATEGORY_KEYS),
              help="A category admitted (repeat); none given: every accredited delegate.")
@click.option("--heads/--no-heads", default=False, help="Also admit heads of delegation.")
@click.option("--closed", is_flag=True, help="Create or set it closed.")
def add_checkpoint(checkpoint_id: str, name: str, categories: tuple[str, ...], heads: bool,
                   closed: bool) -> None:
    """Add or update checkpoint CHECKPOINT_ID called NAME."""
    try:
        cp = checkpoint_service.save_checkpoint(checkpoint_id, name, categories or None,
                                                heads, active=not closed)
    except CheckinError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Checkpoint {cp.id!r} saved.")


@checkpoints_group.command("list")
@edition_option
def list_checkpoints() -> None:
    """Checkpoints and who they admit."""
    for cp in checkpoint_service.list_checkpoints():
        who = "all accredited" if cp.allowed_categories is None else ", ".join(
            cp.allowed_categories)
        if cp.admit_heads_of_delegation:
            who += " + heads of delegation"
        state = "" if cp.active else " (closed)"
        click.echo(f"{cp.id}\t{cp.name}\t{who}{state}")


commands = [devices_group, checkpoints_group]
