"""The base of every command group: bad input ends with status 1, as the guide asks of
every command (a usage error would otherwise exit with Click's status 2)."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import AppGroup


class CommandGroup(AppGroup):
    """An AppGroup whose usage errors (a missing argument, an unknown option, a value
    outside its choices) are reported as Click reports them, and exit with status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            error.show()  # what Click prints for it: the usage line and the error
            raise click.exceptions.Exit(1) from None
