"""`flask --app wsgi staff …`: create, list, disable and enable staff accounts."""

from __future__ import annotations

import sys

import click

from ..cli_base import CommandGroup
from ..models import Role
from ..services import staff_accounts

staff_group = CommandGroup(
    "staff", help="Staff accounts for the desk, check-in and administration.")


@staff_group.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]),
              help="admin: everything; desk: accreditation and badges; scanner: check-in.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
def create(email: str, role: str, password_stdin: bool) -> None:
    """Create a staff account (the password is asked twice, hidden)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        staff = staff_accounts.create_staff(email, password, role)
    except staff_accounts.StaffAccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {staff.role} account {staff.email}.")


@staff_group.command("password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True,
              help="Read the new password from the first line of standard input.")
def password(email: str, password_stdin: bool) -> None:
    """Set a new password for an account (its sessions end)."""
    staff = staff_accounts.find_staff(email)
    if staff is None:
        raise click.ClickException(f"There is no staff account for {email.strip().lower()}.")
    if password_stdin:
        new = sys.stdin.readline().rstrip("\r\n")
    else:
        new = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        staff_accounts.set_password(staff, new)
    except staff_accounts.StaffAccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Password changed for {staff.email}; its sessions have ended.")


@staff_group.command("list")
def list_() -> None:
    """List staff accounts."""
    accounts = staff_accounts.list_staff()
    if not accounts:
        click.echo("No staff accounts. Create one with: "
                   "flask --app wsgi staff create EMAIL --role admin")
        return
    width = max(len(s.email) for s in accounts)
    click.echo(f"{'EMAIL'.ljust(width)}  ROLE     STATE     LAST SIGN-IN (UTC)")
    for s in accounts:
        last = s.last_login_at.strftime("%Y-%m-%d %H:%M") if s.last_login_at else "-"
        state = "active" if s.active else "disabled"
        click.echo(f"{s.email.ljust(width)}  {s.role.ljust(7)}  {state.ljust(8)}  {last}")


@staff_group.command("disable")
@click.argument("email")
def disable(email: str) -> None:
    """Disable an account; its sessions end at once."""
    try:
        staff = staff_accounts.disable_staff(email)
    except staff_accounts.StaffAccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Disabled {staff.email}; its sessions have ended.")


@staff_group.command("enable")
@click.argument("email")
def enable(email: str) -> None:
    """Enable a disabled account again."""
    try:
        staff = staff_accounts.enable_staff(email)
    except staff_accounts.StaffAccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Enabled {staff.email}.")


commands = [staff_group]
