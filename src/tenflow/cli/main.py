"""The ``tenflow`` command line.

Each capability registers its commands from its own module (``register(cli)``); this file only
assembles them and turns :class:`tenflow.errors.TenflowError` into a clear message and exit code.
"""

from __future__ import annotations

import importlib
import sys

import click

from tenflow import __version__
from tenflow.errors import TenflowError

#: modules that contribute commands; each defines ``register(group: click.Group) -> None``
COMMAND_MODULES: list[str] = [
    "tenflow.cli.case_cmd",
    "tenflow.cli.opf_cmd",
    "tenflow.cli.run_cmd",
    "tenflow.cli.mess_cmd",
    "tenflow.cli.demo_cmd",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tenflow")
def cli() -> None:
    """tenflow — co-optimise electrified transportation and electric power networks."""


def _register_all() -> None:
    for mod in COMMAND_MODULES:
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name == mod:  # capability not built yet
                continue
            raise
        module.register(cli)


_register_all()


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, mapping tenflow errors to messages and exit codes."""
    try:
        rv = cli.main(args=argv, standalone_mode=False)
    except TenflowError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except SystemExit as exc:  # click's own exits (e.g. --help)
        return int(exc.code or 0)
    return int(rv) if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())
