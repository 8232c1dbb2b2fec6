"""`pasar query status|peers|block|tx|account|assets|validators`: read from a node.

Contract modules add their own query commands to the `query` group the same way
(`@query.command(...)` in their own cli module, registered in cli/main.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from cli import proof_commands
from cli.client import NodeClient
from cli.common import CliError, Output, hex_digits, json_option, keys_dir_option, node_url_option
from cli.display import Display, decimal_amount, iso_time
from cli.signing import resolve_account
from cli.tx_commands import outcome_lines, wait_option
from ledger.keys import address_to_text


@click.group("query")
def query() -> None:
    """Read chain state from a node."""


@query.command("status")
@node_url_option
@json_option
def status(node_url: str, json_mode: bool) -> None:
    """The node's chain id, height, view, primary and peers."""
    Output(json_mode).emit(NodeClient(node_url).status())


@query.command("peers")
@node_url_option
@json_option
def peers(node_url: str, json_mode: bool) -> None:
    """The other validators as the node sees them: links, announced heights."""
    Output(json_mode).emit(NodeClient(node_url).peers(), human_peers)


def human_peers(data: Any) -> list[str]:
    lines = [f"this node is at height {data['height']}"]
    for peer in data["peers"]:
        links = [name for name in ("outbound", "inbound") if peer[name]]
        state = f"connected ({' and '.join(links)})" if peer["connected"] else "NOT CONNECTED"
        height = "height unknown" if peer["height"] is None else f"at height {peer['height']}"
        role = "" if peer["validator"] else ", not in the validator set"
        dropped = f", {peer['frames_dropped']} frames dropped" if peer["frames_dropped"] else ""
        lines.append(f"  {peer['name'] or '?'} {peer['node_id']}: {state}, {height}{role}{dropped}")
    return lines


@query.command("block")
@click.argument("height", default="latest")
@click.option(
    "--wait",
    type=click.FloatRange(0, 60),
    default=0,
    show_default=True,
    help="seconds to wait for a HEIGHT not committed yet",
)
@node_url_option
@json_option
def block(height: str, wait: float, node_url: str, json_mode: bool) -> None:
    """A committed block by HEIGHT (default: latest)."""
    data = NodeClient(node_url).block(height, wait=wait)
    Output(json_mode).emit(data, human_block)


def human_block(data: Any) -> list[str]:
    header = data["header"]
    lines = [
        f"block {data['height']} {data['hash']}",
        f"  time {iso_time(header['timestamp_ms'])}  proposer {header['proposer']}",
        f"  state_root {header['state_root']}",
        f"  certificate: {len((data.get('certificate') or {}).get('signatures', []))} signatures",
    ]
    for item in data["transactions"]:
        result = item.get("result", {})
        lines.append(
            f"  tx {item['hash']} {item['method']} from {item['sender']}: {result.get('code', '?')}"
        )
    return lines


@query.command("tx")
@click.argument("tx_hash")
@wait_option
@click.option("--prove", is_flag=True, help="fetch the proof bundle (check it if trust is given)")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="with --prove: save the bundle to this file (for `pasar verify`)",
)
@proof_commands.skip_option
@proof_commands.anchor_options
@node_url_option
@json_option
def tx(
    tx_hash: str,
    wait: float,
    prove: bool,
    out: Path | None,
    skip: bool,
    genesis_path: Path | None,
    validators: str | None,
    chain_id: str | None,
    trusted_height: int | None,
    node_url: str,
    json_mode: bool,
) -> None:
    """A transaction's status, receipt and inclusion proof; --prove for a bundle."""
    client = NodeClient(node_url)
    tx_hash = hex_digits(tx_hash)
    if not prove:
        if out is not None or skip:
            raise CliError("--out and --skip need --prove")
        Output(json_mode).emit(client.tx(tx_hash, wait), outcome_lines(Display(client)))
        return
    anchor = None
    if genesis_path is not None or validators is not None:
        anchor = proof_commands.trust_anchor(genesis_path, validators, chain_id, trusted_height)
    for line in proof_commands.prove_tx(client, tx_hash, wait, out, anchor, skip):
        click.echo(line)


@query.command("account")
@click.argument("account")
@click.option("--prove", is_flag=True, help="check nonce and balances against the chain's proof")
@click.option("--symbols", default=None, help="with --prove: coins to prove even if not held")
@proof_commands.skip_option
@proof_commands.anchor_options
@keys_dir_option
@node_url_option
@json_option
def account(
    account: str,
    prove: bool,
    symbols: str | None,
    skip: bool,
    genesis_path: Path | None,
    validators: str | None,
    chain_id: str | None,
    trusted_height: int | None,
    keys_dir: Path,
    node_url: str,
    json_mode: bool,
) -> None:
    """Balances and next nonce of an ACCOUNT (address or key name); --prove checks them."""
    address = address_to_text(resolve_account(account, keys_dir))
    client = NodeClient(node_url)
    if not prove:
        display = Display(client)
        Output(json_mode).emit(client.account(address), lambda data: human_account(data, display))
        return
    anchor = proof_commands.trust_anchor(genesis_path, validators, chain_id, trusted_height)
    for line in proof_commands.prove_account(client, address, symbols, anchor, skip):
        click.echo(line)


def human_account(data: Any, display: Display) -> list[str]:
    lines = [f"account {data['address']}", f"  nonce {data['nonce']}  (height {data['height']})"]
    if not data["balances"]:
        lines.append("  no balances")
    for symbol, amount in sorted(data["balances"].items()):
        lines.append(f"  {display.amount(amount, symbol)}")
    return lines


@query.command("assets")
@click.option("--limit", type=click.IntRange(1, 500), default=100, show_default=True)
@click.option("--cursor", default=None, help="next_cursor of the previous page")
@node_url_option
@json_option
def assets(limit: int, cursor: str | None, node_url: str, json_mode: bool) -> None:
    """Assets on the chain, in symbol order."""
    query_args = {"limit": str(limit)}
    if cursor:
        query_args["cursor"] = cursor
    data = NodeClient(node_url).request("GET", "/v1/assets", query=query_args)
    Output(json_mode).emit(data, human_assets)


def human_assets(data: Any) -> list[str]:
    lines = [
        f"{a['symbol']:<12} {a['policy']:<10} supply {decimal_amount(a['supply'], a['decimals'])}"
        f" / cap {decimal_amount(a['cap'], a['decimals'])} (decimals {a['decimals']})"
        f" issuer {a['issuer']}"
        for a in data["assets"]
    ]
    if data.get("next_cursor"):
        lines.append(f"more: --cursor {data['next_cursor']}")
    return lines or ["no assets"]


@query.command("validators")
@node_url_option
@json_option
def validators(node_url: str, json_mode: bool) -> None:
    """The validator set and its quorum."""
    data = NodeClient(node_url).request("GET", "/v1/validators")
    Output(json_mode).emit(data, human_validators)


def human_validators(data: Any) -> list[str]:
    lines = [f"{len(data['validators'])} validators, quorum {data['quorum']}"]
    for item in data["validators"]:
        lines.append(f"  {item['name'] or '-':<14} {item['address']}")
    return lines


@query.command("events")
@click.option("--cursor", default=None, help="resume after this event id (h or h/i); 0 = block 1")
@click.option("--account", default=None, help="only transactions involving this address or key")
@click.option("--limit", type=click.IntRange(1), default=None, help="stop after this many events")
@keys_dir_option
@node_url_option
@json_option
def events(
    cursor: str | None,
    account: str | None,
    limit: int | None,
    keys_dir: Path,
    node_url: str,
    json_mode: bool,
) -> None:
    """Follow committed blocks and tx results; resume with --cursor <last id shown>.

    With --json, prints one JSON object per line: {"event", "id", "data"}.
    """
    query_args: dict[str, str] = {}
    if cursor:
        query_args["cursor"] = cursor
    if account:
        query_args["account"] = address_to_text(resolve_account(account, keys_dir))
    for shown, event in enumerate(NodeClient(node_url).events(query_args), start=1):
        click.echo(json.dumps(event, sort_keys=True) if json_mode else human_event(event))
        if limit is not None and shown >= limit:
            break


def human_event(event: dict[str, Any]) -> str:
    data = event["data"]
    if event.get("event") == "block":
        return f"[{event.get('id')}] block {data['height']} {data['hash']} ({data['tx_count']} txs)"
    return (
        f"[{event.get('id')}] tx {data['hash']} {data['method']} from {data['sender']}: "
        f"{data['status']}"
    )


def register(group: click.Group) -> None:
    group.add_command(query)
