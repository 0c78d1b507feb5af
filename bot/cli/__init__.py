"""The ``warga`` command line: one module per command group, assembled in :mod:`bot.cli.main`."""

from bot.cli.main import cli, main

__all__ = ["cli", "main"]
