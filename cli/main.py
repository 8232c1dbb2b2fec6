"""Entry point of the `pasar` command."""

from __future__ import annotations

import click

from cli import node_commands


@click.group()
@click.version_option(package_name="pasar")
def cli() -> None:
    """pasar: a permissioned blockchain node for e-commerce."""


node_commands.register(cli)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
