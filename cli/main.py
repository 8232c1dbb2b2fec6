"""Entry point of the `pasar` command.

Each command module exposes `register(group)`; contract modules that add
subcommands to `tx` or `query` import those groups and are listed here too.
"""

from __future__ import annotations

import click

from cli import (
    account_commands,
    commands_commerce,  # noqa: F401  (adds listing/order/escrow/arbiter to tx and query)
    commands_exchange,  # noqa: F401  (adds exchange/invoice/payment/platform/governance)
    commands_loyalty,  # noqa: F401  (adds loyalty/franchise to tx and query)
    keys_commands,
    node_commands,
    proof_commands,
    query_commands,
    tx_commands,
    up_command,
)
from cli.common import PasarGroup
from cli.webhooks import commands as webhooks_commands


@click.group(cls=PasarGroup)
@click.version_option(package_name="pasar")
def cli() -> None:
    """pasar: a permissioned blockchain node for e-commerce."""


node_commands.register(cli)
keys_commands.register(cli)
tx_commands.register(cli)
account_commands.register(cli)
query_commands.register(cli)
proof_commands.register(cli)
up_command.register(cli)
webhooks_commands.register(cli)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
