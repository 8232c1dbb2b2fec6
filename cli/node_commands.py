"""Operator commands that run or lay out validators: `pasar node` and `pasar testnet`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
from pathlib import Path

import click

from node import home as homes
from node.keyfile import KeyFileError, key_file_info, passphrase_from


@click.command("testnet")
@click.option("--validators", "count", type=click.IntRange(1, 100), default=4, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--hosts", default="127.0.0.1", show_default=True, help="one host, or one per node")
@click.option("--base-port", type=click.IntRange(1, 65000), default=homes.DEFAULT_BASE_PORT)
@click.option("--chain-id", default=homes.DEFAULT_CHAIN_ID, show_default=True)
@click.option("--names", default="", help="comma-separated validator names (default v0, v1, ...)")
@click.option(
    "--app-state",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="JSON file with genesis app_state sections",
)
@click.option("--passphrase-file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--insecure-plaintext-keys", is_flag=True, help="unencrypted keys (local tests only)")
def testnet(
    count: int,
    out: Path,
    hosts: str,
    base_port: int,
    chain_id: str,
    names: str,
    app_state: Path | None,
    passphrase_file: Path | None,
    insecure_plaintext_keys: bool,
) -> None:
    """Write N validator homes and a shared genesis under OUT."""
    chosen = [name.strip() for name in names.split(",") if name.strip()] or [
        f"v{index}" for index in range(count)
    ]
    if len(chosen) != count:
        raise click.ClickException(f"--names lists {len(chosen)} names for {count} validators")
    try:
        passphrase = None if insecure_plaintext_keys else passphrase_from(passphrase_file)
        if passphrase is None and not insecure_plaintext_keys:
            passphrase = click.prompt("Key passphrase", hide_input=True, confirmation_prompt=True)
        sections = json.loads(app_state.read_text()) if app_state else {}
        nodes = homes.create_testnet(
            out,
            chosen,
            hosts=[host.strip() for host in hosts.split(",") if host.strip()],
            base_port=base_port,
            chain_id=chain_id,
            app_state=sections,
            passphrase=passphrase,
            insecure=insecure_plaintext_keys,
        )
    except (homes.HomeError, KeyFileError, json.JSONDecodeError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    for node in nodes:
        click.echo(f"{node.name}\thome={node.home}\trpc={node.rpc_url}\tp2p={node.p2p_url}")


@click.command("node")
@click.option("--home", "home_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--passphrase-file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--log-level", default="info", show_default=True)
def node(home_dir: Path, passphrase_file: Path | None, log_level: str) -> None:
    """Run one validator from its home directory until SIGTERM or Ctrl-C."""
    from node import log
    from node.chain import GenesisMismatch, IncompatibleStore
    from node.node import run_node
    from node.storage import StorageError

    try:
        home = homes.load_home(home_dir)
        info = key_file_info(home.key_path)
        passphrase = passphrase_from(passphrase_file)
        if info.encrypted and passphrase is None:
            passphrase = click.prompt("Key passphrase", hide_input=True)
        key = home.load_key(passphrase)
    except (homes.HomeError, KeyFileError) as exc:
        raise click.ClickException(str(exc)) from exc
    log.configure(home.config.name, log_level)
    raise_file_limit()
    try:
        with asyncio.Runner() as runner:
            # a descriptor-exhaustion episode logs one warning, not one traceback per
            # connection asyncio's accept loop could not take (node/log.py)
            log.quiet_accept_failures(runner.get_loop())
            runner.run(run_node(home, key))
    except (GenesisMismatch, IncompatibleStore) as exc:
        raise click.ClickException(str(exc)) from exc
    except StorageError as exc:  # full disk, I/O error, damaged LevelDB files
        raise click.ClickException(f"{exc}; {exc.remedy}") from exc
    except OSError as exc:  # e.g. a port already in use or a locked data directory
        raise click.ClickException(f"cannot run the node: {exc}") from exc


def raise_file_limit() -> None:
    """Take the hard open-file limit, not the soft one that is often 1,024.

    Every connection the node holds (a client's long-poll or event stream, a peer, one
    of its front's) is a descriptor, and so are LevelDB's files; the default
    `[limits] long_polls` alone is 4,096. The RPC's slots are then fitted to the limit
    the node has (node/rpc/limits.py), which is why this runs before the node starts."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        # a container may refuse even its own hard limit: the node then runs with the
        # soft one, and its slots are fitted to that
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def register(group: click.Group) -> None:
    """Add these commands to the `pasar` group."""
    for command in (node, testnet):
        group.add_command(command)
