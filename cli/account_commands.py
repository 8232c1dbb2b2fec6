"""`pasar account ...`: show and set an account's policy, start or cancel a recovery.

A policy is given as options and sent as `account.set_policy` (or `account.recover`)
with the usual sending options, so it can also go through a signing file:

    pasar account policy set --from shop-account --policy-key phone=1 \\
        --policy-key laptop=1 --thresholds 1,2,2 --unsigned --out policy.json
    pasar tx sign policy.json --key phone
    pasar tx submit policy.json --wait
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.client import NodeClient
from cli.commands_commerce import parse_duration
from cli.common import CliError, Output, json_option, keys_dir_option, node_url_option
from cli.signing import resolve_account
from cli.tx_commands import SendOptions, send, send_options
from contracts.account import MAX_KEYS, MAX_WEIGHT


def weighted_keys(items: tuple[str, ...], keys_dir: Path, what: str) -> list[list[Any]]:
    """KEY[=WEIGHT] items (KEY a name or address; weight 1 by default), sorted by key."""
    pairs: dict[bytes, int] = {}
    for item in items:
        name, _, weight_text = item.partition("=")
        key = resolve_account(name, keys_dir, what)
        try:
            weight = int(weight_text) if weight_text else 1
        except ValueError as exc:
            raise CliError(f"{what} {item!r}: the weight must be a whole number") from exc
        if not 1 <= weight <= MAX_WEIGHT:
            raise CliError(f"{what} {item!r}: the weight must be 1..{MAX_WEIGHT}")
        if key in pairs:
            raise CliError(f"{what} {name!r} is given twice")
        pairs[key] = weight
    if len(pairs) > MAX_KEYS:
        raise CliError(f"at most {MAX_KEYS} {what}s")
    return [[key, weight] for key, weight in sorted(pairs.items())]


def scoped_keys(items: tuple[str, ...], keys_dir: Path) -> list[list[Any]]:
    """KEY=METHOD[,METHOD...][@ALLOWANCE] items, sorted by key."""
    scoped: dict[bytes, list[Any]] = {}
    for item in items:
        name, sep, rest = item.partition("=")
        if not sep or not rest:
            raise CliError(f"--scoped {item!r}: use KEY=METHOD[,METHOD...][@ALLOWANCE]")
        methods_text, _, allowance_text = rest.partition("@")
        key = resolve_account(name, keys_dir, "--scoped key")
        try:
            allowance = int(allowance_text) if allowance_text else None
        except ValueError as exc:
            raise CliError(f"--scoped {item!r}: the allowance must be a whole number") from exc
        methods = sorted({method.strip() for method in methods_text.split(",") if method.strip()})
        scoped[key] = [key, methods, allowance]
    return [scoped[key] for key in sorted(scoped)]


def policy_options(function: Any) -> Any:
    """The options that describe a whole policy (it replaces the current one)."""
    for option in reversed(
        [
            click.option(
                "--policy-key",
                "policy_keys",
                multiple=True,
                required=True,
                help="KEY[=WEIGHT]: a full key (name or address) and its weight (repeat)",
            ),
            click.option(
                "--thresholds",
                default="1,1,1",
                show_default=True,
                help="LOW,MEDIUM,HIGH weights needed per operation class",
            ),
            click.option(
                "--large-amount",
                type=click.IntRange(0),
                default=0,
                help="transfers above this are high class (0: none)",
            ),
            click.option(
                "--scoped",
                multiple=True,
                help="KEY=METHOD[,METHOD...][@ALLOWANCE]: a key for these methods only (repeat)",
            ),
            click.option(
                "--recovery-key", multiple=True, help="KEY[=WEIGHT]: a recovery key (repeat)"
            ),
            click.option("--recovery-threshold", type=click.IntRange(1), default=None),
            click.option(
                "--recovery-delay", default="48h", show_default=True, help="e.g. 48h, 30m, 2d"
            ),
        ]
    ):
        function = option(function)
    return function


def build_policy(options: SendOptions, values: dict[str, Any]) -> list[Any]:
    """The policy in wire form from the policy options."""
    keys = weighted_keys(values["policy_keys"], options.keys_dir, "--policy-key")
    try:
        thresholds = [int(part) for part in values["thresholds"].split(",")]
    except ValueError as exc:
        raise CliError("--thresholds is LOW,MEDIUM,HIGH, e.g. 1,2,2") from exc
    if len(thresholds) != 3:
        raise CliError("--thresholds is LOW,MEDIUM,HIGH, e.g. 1,2,2")
    recovery = None
    if values["recovery_key"]:
        recovery_keys = weighted_keys(values["recovery_key"], options.keys_dir, "--recovery-key")
        threshold = values["recovery_threshold"] or sum(weight for _, weight in recovery_keys)
        recovery = [recovery_keys, threshold, parse_duration(values["recovery_delay"])]
    elif values["recovery_threshold"] is not None:
        raise CliError("--recovery-threshold needs at least one --recovery-key")
    return [
        keys,
        thresholds,
        values["large_amount"],
        scoped_keys(values["scoped"], options.keys_dir),
        recovery,
    ]


POLICY_NAMES = (
    "policy_keys",
    "thresholds",
    "large_amount",
    "scoped",
    "recovery_key",
    "recovery_threshold",
    "recovery_delay",
)


@click.group("account")
def account() -> None:
    """Who may sign for an account: keys, weights, scoped keys, recovery."""


@account.group("policy")
def policy() -> None:
    """Show or replace an account's policy."""


def human_policy(body: Any) -> list[str]:
    rules = body["policy"]
    thresholds = rules["thresholds"]
    lines = [
        f"account {body['address']}" + (" (default one-key policy)" if rules["default"] else ""),
        f"  thresholds: low {thresholds['low']}, medium {thresholds['medium']},"
        f" high {thresholds['high']}"
        + (f"; transfers above {rules['large_amount']} are high" if rules["large_amount"] else ""),
    ]
    lines += [f"  key {item['key']} weight {item['weight']}" for item in rules["keys"]]
    for item in rules["scoped_keys"]:
        allowance = "no limit" if item["allowance"] is None else f"allowance {item['allowance']}"
        lines.append(f"  scoped key {item['key']}: {', '.join(item['methods'])} ({allowance})")
    recovery = rules["recovery"]
    if recovery is not None:
        names = ", ".join(f"{item['key']} ({item['weight']})" for item in recovery["keys"])
        lines.append(
            f"  recovery: weight {recovery['threshold']} of {names},"
            f" after {recovery['delay_ms'] // 1000} s"
        )
    pending = rules["pending_recovery"]
    if pending is not None:
        lines.append(f"  RECOVERY PENDING: takes effect at block time {pending['effective_ms']}")
    return lines


@policy.command("show")
@click.argument("target")
@node_url_option
@keys_dir_option
@json_option
def show(target: str, node_url: str, keys_dir: Path, json_mode: bool) -> None:
    """Show the policy of TARGET (an address or key name)."""
    from ledger.keys import address_to_text

    address = address_to_text(resolve_account(target, keys_dir))
    body = NodeClient(node_url).account(address)
    Output(json_mode).emit(
        {"address": body["address"], "policy": body["policy"], "height": body["height"]},
        human_policy,
    )


@policy.command("set")
@send_options
@policy_options
def set_policy(options: SendOptions, **values: Any) -> None:
    """Replace the policy of the --from account (high class: signed under the current one)."""
    send(options, "account.set_policy", (build_policy(options, values),))


@account.command("recover")
@send_options
@policy_options
def recover(options: SendOptions, **values: Any) -> None:
    """Ask to replace the --from account's policy; signed by its recovery keys, it takes
    effect after the account's recovery delay unless a current key cancels it."""
    send(options, "account.recover", (build_policy(options, values),))


@account.command("cancel-recovery")
@send_options
def cancel_recovery(options: SendOptions) -> None:
    """Stop a pending recovery of the --from account (any one current key signs)."""
    send(options, "account.cancel_recovery", ())


def register(group: click.Group) -> None:
    group.add_command(account)
