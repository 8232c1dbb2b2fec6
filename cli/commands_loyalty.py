"""`pasar tx loyalty|franchise ...` and `pasar query loyalty|franchise`.

Exclusive coins: create one with its group and earning rules, administer members
and rewards, bind a validator to the member operating it. Franchising: open a
program, join it, open a sub-franchise, leave. Amounts and thresholds are in the
coin's minor units; program ids are 64 hex digits (the `program` attribute of the
`franchise.opened` event).

Importing this module adds the commands to the shared `tx` and `query` groups.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.client import NodeClient
from cli.commands_commerce import parse_id
from cli.common import CliError, Output, json_option, keys_dir_option, node_url_option
from cli.display import Display
from cli.query_commands import query
from cli.signing import resolve_account
from cli.tx_commands import SendOptions, send, send_options, tx
from ledger.keys import address_to_text

TRANSFER_MODES = ("members", "open", "none")


def parse_rule(text: str) -> list[Any]:
    """`SYMBOL:RATE_BPS`, e.g. `IDR:150` (1.5% of every sale paid in IDR)."""
    parts = text.split(":")
    if len(parts) != 2 or not parts[0] or not parts[1].isdigit():
        raise CliError(f"--reward {text!r}: use PAYMENT_SYMBOL:RATE_BPS, e.g. IDR:150")
    return [parts[0], int(parts[1])]


# --- pasar tx loyalty ----------------------------------------------------------------------


@tx.group("loyalty")
def loyalty_tx() -> None:
    """Exclusive (loyalty) coins: create, members, rewards, validator binding."""


@loyalty_tx.command("create")
@send_options
@click.option("--symbol", required=True)
@click.option("--name", required=True)
@click.option("--decimals", type=click.IntRange(0, 18), default=0, show_default=True)
@click.option("--cap", type=click.IntRange(1), required=True, help="supply cap, minor units")
@click.option("--member", "members", multiple=True, help="a seller in the group (repeat)")
@click.option("--admin", "admins", multiple=True, help="administers membership (default: you)")
@click.option("--reward", "rewards", multiple=True, help="PAYMENT_SYMBOL:RATE_BPS (repeat)")
@click.option("--block-reward", type=click.IntRange(0), default=0, show_default=True)
@click.option(
    "--transfers",
    type=click.Choice(TRANSFER_MODES),
    default="members",
    show_default=True,
    help="plain transfers: touching a member, open to all, or none",
)
def loyalty_create(
    options: SendOptions,
    symbol: str,
    name: str,
    decimals: int,
    cap: int,
    members: tuple[str, ...],
    admins: tuple[str, ...],
    rewards: tuple[str, ...],
    block_reward: int,
    transfers: str,
) -> None:
    """Create an exclusive coin and its group; you are issuer and member (loyalty.create)."""
    args = (
        symbol,
        name,
        decimals,
        cap,
        [options.account(m, "--member") for m in members],
        [options.account(a, "--admin") for a in admins],
        [parse_rule(r) for r in rewards],
        block_reward,
        transfers,
    )
    send(options, "loyalty.create", args)


@loyalty_tx.command("add-member")
@send_options
@click.argument("symbol")
@click.argument("account")
def loyalty_add_member(options: SendOptions, symbol: str, account: str) -> None:
    """Admit a seller to the group (administrators) (loyalty.add_member)."""
    send(options, "loyalty.add_member", (symbol, options.account(account, "ACCOUNT")))


@loyalty_tx.command("remove-member")
@send_options
@click.argument("symbol")
@click.argument("account")
def loyalty_remove_member(options: SendOptions, symbol: str, account: str) -> None:
    """Remove a member: it stops accepting the coin; balances stay (loyalty.remove_member)."""
    send(options, "loyalty.remove_member", (symbol, options.account(account, "ACCOUNT")))


@loyalty_tx.command("set-rewards")
@send_options
@click.argument("symbol")
@click.option("--reward", "rewards", multiple=True, help="PAYMENT_SYMBOL:RATE_BPS (repeat)")
@click.option("--block-reward", type=click.IntRange(0), default=0, show_default=True)
def loyalty_set_rewards(
    options: SendOptions, symbol: str, rewards: tuple[str, ...], block_reward: int
) -> None:
    """Replace the earning rules (administrators) (loyalty.set_rewards)."""
    send(options, "loyalty.set_rewards", (symbol, [parse_rule(r) for r in rewards], block_reward))


@loyalty_tx.command("bind-validator")
@send_options
@click.argument("symbol")
@click.argument("member")
def loyalty_bind_validator(options: SendOptions, symbol: str, member: str) -> None:
    """Sign with a validator key: ask that MEMBER operate it and earn its block rewards,
    once a group administrator approves (loyalty.bind_validator)."""
    send(options, "loyalty.bind_validator", (symbol, options.account(member, "MEMBER")))


@loyalty_tx.command("approve-binding")
@send_options
@click.argument("symbol")
@click.argument("validator")
def loyalty_approve_binding(options: SendOptions, symbol: str, validator: str) -> None:
    """As a group administrator, approve VALIDATOR's bind request: its member earns its
    block rewards from now on (loyalty.approve_binding)."""
    send(options, "loyalty.approve_binding", (symbol, options.account(validator, "VALIDATOR")))


@loyalty_tx.command("unbind-validator")
@send_options
@click.argument("symbol")
def loyalty_unbind_validator(options: SendOptions, symbol: str) -> None:
    """Sign with a validator key: withdraw its binding (loyalty.unbind_validator)."""
    send(options, "loyalty.unbind_validator", (symbol,))


# --- pasar tx franchise --------------------------------------------------------------------


@tx.group("franchise")
def franchise_tx() -> None:
    """Franchise programs on an exclusive coin: open, join, sub-franchise, leave, expel,
    close."""


@franchise_tx.command("open")
@send_options
@click.option("--asset", required=True, help="the exclusive coin the thresholds are in")
@click.option("--product", "products", multiple=True, required=True, help="a SKU (repeat)")
@click.option("--t1", type=click.IntRange(1), required=True, help="franchisee threshold")
@click.option("--t2", type=click.IntRange(1), required=True, help="sub-franchise threshold")
@click.option("--royalty-bps", type=click.IntRange(0, 10_000), required=True)
def franchise_open(
    options: SendOptions,
    asset: str,
    products: tuple[str, ...],
    t1: int,
    t2: int,
    royalty_bps: int,
) -> None:
    """Become a franchisor of your coin (franchise.open_program); the id is in the event."""
    send(options, "franchise.open_program", (asset, list(products), t1, t2, royalty_bps))


@franchise_tx.command("join")
@send_options
@click.argument("program_id")
def franchise_join(options: SendOptions, program_id: str) -> None:
    """Join as a franchisee; needs a balance of at least T1 (franchise.join)."""
    send(options, "franchise.join", (parse_id(program_id, "PROGRAM_ID"),))


@franchise_tx.command("open-sub")
@send_options
@click.argument("parent_id")
@click.option("--product", "products", multiple=True, help="SKUs (default: all the parent's)")
@click.option("--t1", type=click.IntRange(1), required=True)
@click.option("--t2", type=click.IntRange(1), required=True)
@click.option("--royalty-bps", type=click.IntRange(0, 10_000), required=True)
def franchise_open_sub(
    options: SendOptions,
    parent_id: str,
    products: tuple[str, ...],
    t1: int,
    t2: int,
    royalty_bps: int,
) -> None:
    """Open a sub-franchise under a program you belong to; needs its T2 (franchise.open_sub)."""
    args = (parse_id(parent_id, "PARENT_ID"), list(products), t1, t2, royalty_bps)
    send(options, "franchise.open_sub", args)


@franchise_tx.command("leave")
@send_options
@click.argument("program_id")
def franchise_leave(options: SendOptions, program_id: str) -> None:
    """Stop being a franchisee of a program (franchise.leave)."""
    send(options, "franchise.leave", (parse_id(program_id, "PROGRAM_ID"),))


@franchise_tx.command("expel")
@send_options
@click.argument("program_id")
@click.argument("account")
@click.option("--reason", required=True, help="shown to the franchisee")
def franchise_expel(options: SendOptions, program_id: str, account: str, reason: str) -> None:
    """As the franchisor, expel a franchisee: its listings take no more orders
    (franchise.expel)."""
    args = (parse_id(program_id, "PROGRAM_ID"), options.account(account, "ACCOUNT"), reason)
    send(options, "franchise.expel", args)


@franchise_tx.command("close")
@send_options
@click.argument("program_id")
@click.option("--reason", required=True, help="shown to the franchisees")
def franchise_close(options: SendOptions, program_id: str, reason: str) -> None:
    """As the franchisor, close a program and its sub-franchises to new orders and
    franchisees; open orders run to their end (franchise.close)."""
    send(options, "franchise.close", (parse_id(program_id, "PROGRAM_ID"), reason))


# --- queries -------------------------------------------------------------------------------


def human_group(data: Any, display: Display) -> list[str]:
    rules = ", ".join(f"{r['symbol']} {r['rate_bps']} bps" for r in data["rules"]) or "none"
    symbol = data["symbol"]
    lines = [
        f"{symbol} ({data['name']}): supply {display.amount(data['supply'], symbol)}"
        f" / cap {display.amount(data['cap'], symbol)}",
        f"  creator {data['creator']}",
        f"  admins {', '.join(data['admins'])}",
        f"  transfers {data['transfer_mode']}  sale rewards {rules}"
        f"  block reward {display.amount(data['block_reward'], symbol)}",
        f"  {len(data['members'])} members:",
    ]
    lines.extend(f"    {member}" for member in data["members"])
    lines.extend(f"  franchise program {program}" for program in data["programs"])
    return lines


def human_tree(data: Any, display: Display, indent: str = "") -> list[str]:
    kind = "sub-franchise" if data["parent"] else "program"
    symbol = data["symbol"]
    lines = [
        f"{indent}{kind} {data['id']} ({data['status']})",
        f"{indent}  owner {data['owner']}",
        f"{indent}  products {', '.join(data['products'])}"
        f"  T1 {display.amount(data['t1'], symbol)}  T2 {display.amount(data['t2'], symbol)}"
        f"  royalty {data['royalty_bps']} bps",
    ]
    for item in data["franchisees"]:
        balance = display.amount(item["balance"], symbol)
        lines.append(f"{indent}  franchisee {item['account']} holds {balance} ({item['status']})")
    for sub in data["sub_franchises"]:
        lines.extend(human_tree(sub, display, indent + "  "))
    return lines


@query.command("loyalty")
@click.argument("symbol")
@click.option("--members", "members_only", is_flag=True, help="only list the members")
@node_url_option
@json_option
def query_loyalty(symbol: str, members_only: bool, node_url: str, json_mode: bool) -> None:
    """An exclusive coin's group: members, rules, franchise programs."""
    client = NodeClient(node_url)
    if members_only:
        data = client.request("GET", f"/v1/loyalty/{symbol}/members")
        Output(json_mode).emit(data, lambda d: list(d["members"]) or ["no members"])
        return
    display = Display(client)
    group = client.request("GET", f"/v1/loyalty/{symbol}")
    Output(json_mode).emit(group, lambda d: human_group(d, display))


@query.command("franchise")
@click.argument("program_id")
@node_url_option
@json_option
def query_franchise(program_id: str, node_url: str, json_mode: bool) -> None:
    """A franchise program's tree: franchisor, sub-franchises, franchisees, status."""
    path = f"/v1/franchise/{parse_id(program_id, 'PROGRAM_ID').hex()}"
    client = NodeClient(node_url)
    display = Display(client)
    Output(json_mode).emit(client.request("GET", path), lambda d: human_tree(d, display))


@query.command("franchise-status")
@click.argument("program_id")
@click.argument("account")
@keys_dir_option
@node_url_option
@json_option
def query_franchise_status(
    program_id: str, account: str, keys_dir: Path, node_url: str, json_mode: bool
) -> None:
    """May ACCOUNT sell the program's products now, and if not, why."""
    address = address_to_text(resolve_account(account, keys_dir, "ACCOUNT"))
    path = f"/v1/franchise/{parse_id(program_id, 'PROGRAM_ID').hex()}/status/{address}"
    data = NodeClient(node_url).request("GET", path)

    def human(d: Any) -> list[str]:
        lines = [f"{d['account']}: {'active' if d['active'] else 'suspended'}"]
        lines += [f"  {reason}" for reason in d["reasons"]]
        if d["expelled"]:
            lines.append(f"  expelled: {d['expelled']['reason']}")
        if d["closed"]:
            lines.append(f"  closed: {d['closed']['reason']}")
        return lines

    Output(json_mode).emit(data, human)
