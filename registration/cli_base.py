"""The base of every command group: bad input ends with status 1 and a one-line `Error:`,
as the guide asks of every command (a usage error would otherwise exit with Click's status
2, and a missing data key with a traceback)."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import AppGroup

from .data_crypto import DataKeyError


class CommandGroup(AppGroup):
    """An AppGroup whose usage errors (a missing argument, an unknown option, a value
    outside its choices) are reported as Click reports them, and exit with status 1; so
    does encrypted data that no configured key can read (a setting to mend)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            error.show()  # what Click prints for it: the usage line and the error
            raise click.exceptions.Exit(1) from None
        except DataKeyError as error:
            raise click.ClickException(
                f"encrypted data cannot be read ({error}). Add the key that wrote it to "
                "DATA_ENCRYPTION_OLD_KEYS, and run the command again.") from None
