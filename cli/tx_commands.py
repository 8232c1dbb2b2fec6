"""`pasar tx ...`: build a transaction with ledger types, sign it, submit it, wait.

Every builder command takes the same sending options (`send_options`) and ends
in `send`, so a contract module adds its own commands in a few lines:

    @tx.command("pay")
    @send_options
    @click.option(...)
    def pay(options: SendOptions, ...) -> None:
        send(options, "payment.pay", (...))

The nonce and chain id are fetched from the node unless given. Offline signing:
`--unsigned` prints the canonical unsigned bytes (no key needed, only the sender),
`pasar tx sign` signs them on another machine, and `pasar tx submit` sends them.
`--offline` (with `--chain-id` and `--nonce`) signs without contacting a node.

A busy node (429 `mempool_full`, `sender_backlog_full` or `nonce_gap_full`) is waited out for up to
`--busy-wait` seconds (default 30, 0 = not at all): the same signed bytes are sent
again after the node's jittered `Retry-After` (cli/submission.py), each wait told
in one line on stderr, so `--json` output on stdout stays one JSON document.

Co-signing (an account whose policy needs several keys): `--unsigned --out FILE`
writes a signing file (`cli.signing`), each key holder runs `pasar tx sign FILE
--key NAME`, and `pasar tx submit FILE` sends it once enough keys signed.
`--sign-with NAME` (repeat) signs directly with keys other than the --from one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from cli.client import NodeClient, NodeReplyError
from cli.common import (
    CliError,
    F,
    Output,
    compact,
    hex_digits,
    json_option,
    keys_dir_option,
    node_url_option,
    passphrase_file_option,
)
from cli.display import Display
from cli.signing import (
    is_signing_file,
    load_key,
    read_signing_file,
    resolve_account,
    signed_from_file,
    write_signing_file,
)
from cli.submission import (
    WaitNotice,
    busy_deadline,
    is_busy,
    sign_and_submit,
    submit_signed,
)
from ledger.errors import CodecError
from ledger.keys import address_to_text
from ledger.tx import MAX_NONCE, SignedTransaction, Transaction
from node.rpc.values import JsonValueError, args_from_json

MAX_WAIT = 60.0
DEFAULT_WAIT = 30.0
DEFAULT_BUSY_WAIT = 30.0
R = TypeVar("R")


@dataclass(frozen=True)
class SendOptions:
    """How to sign and send, shared by every `pasar tx` builder."""

    signer: str | None
    node_url: str
    keys_dir: Path
    passphrase_file: Path | None
    nonce: int | None
    chain_id: str | None
    expiry_ms: int
    wait: float
    unsigned: bool
    offline: bool
    json_mode: bool
    out: Path | None = None
    sign_with: tuple[str, ...] = ()
    busy_wait: float = DEFAULT_BUSY_WAIT

    def client(self) -> NodeClient:
        return NodeClient(self.node_url)

    def output(self) -> Output:
        return Output(self.json_mode)

    def account(self, text: str, what: str = "account") -> bytes:
        return resolve_account(text, self.keys_dir, what)


def wait_option(function: F) -> F:
    """`--wait [SECONDS]`: bare means 30 s, so `--wait` may end the command line."""
    return click.option(
        "--wait",
        type=click.FloatRange(0, MAX_WAIT),
        default=0,
        is_flag=False,
        flag_value=DEFAULT_WAIT,
        help=f"wait up to SECONDS (default {DEFAULT_WAIT:g} when given bare) for the outcome",
    )(function)


def busy_wait_option(function: F) -> F:
    """`--busy-wait SECONDS`: how long a busy node (429) is waited out."""
    return click.option(
        "--busy-wait",
        type=click.FloatRange(0),
        metavar="SECONDS",
        default=DEFAULT_BUSY_WAIT,
        show_default=True,
        help="wait out a busy node (429) for up to SECONDS, resending the same signed "
        "transaction after its Retry-After; 0 = do not wait",
    )(function)


def ride_out_busy(busy_wait: float, submit: Callable[[float | None, WaitNotice], R]) -> R:
    """Run `submit(busy_until, on_wait)` with a deadline `busy_wait` seconds away: each
    wait is told on stderr (stdout stays the command's output), and a node still
    busy at the end is one line saying what to do."""
    waits: list[float] = []

    def announce(exc: NodeReplyError, wait: float) -> None:
        waits.append(wait)
        click.echo(f"node busy ({exc.code}): retrying in {wait:.1f} s", err=True)

    try:
        return submit(busy_deadline(busy_wait), announce)
    except NodeReplyError as exc:
        if not is_busy(exc):
            raise
        if busy_wait <= 0:
            raise CliError(
                f"node busy: {exc.message}; not waited (--busy-wait 0): "
                "send it again later, or with --busy-wait SECONDS"
            ) from exc
        retries = f"{len(waits)} {'retry' if len(waits) == 1 else 'retries'}"
        raise CliError(
            f"node still busy after {retries} within --busy-wait {busy_wait:g} s: "
            f"{exc.message}; send it again later, or with a longer --busy-wait"
        ) from exc


def send_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Add the sending options to a command and pass them as one `options` argument."""

    @wraps(function)
    def wrapper(**kwargs: Any) -> Any:
        names = (
            "signer",
            "node_url",
            "keys_dir",
            "passphrase_file",
            "nonce",
            "chain_id",
            "expiry_ms",
            "wait",
            "unsigned",
            "offline",
            "json_mode",
            "out",
            "sign_with",
            "busy_wait",
        )
        options = SendOptions(**{name: kwargs.pop(name) for name in names})
        return function(options, **kwargs)

    decorated: Callable[..., Any] = wrapper
    for option in reversed(
        [
            click.option("--from", "--key", "signer", help="key name (under --keys-dir) or path"),
            node_url_option,
            keys_dir_option,
            passphrase_file_option,
            click.option("--nonce", type=click.IntRange(0, MAX_NONCE), help="default: from node"),
            click.option("--chain-id", help="default: from the node"),
            click.option("--expiry-ms", type=click.IntRange(0), default=0, help="0 = never"),
            wait_option,
            busy_wait_option,
            click.option("--unsigned", is_flag=True, help="print the unsigned tx, do not sign"),
            click.option("--offline", is_flag=True, help="sign and print only"),
            click.option(
                "--out",
                type=click.Path(dir_okay=False, path_type=Path),
                help="with --unsigned: write a signing file for `pasar tx sign FILE`",
            ),
            click.option(
                "--sign-with",
                multiple=True,
                help="a key that signs for the --from account (repeat; default: --from)",
            ),
            json_option,
        ]
    ):
        decorated = option(decorated)
    return decorated


def build(options: SendOptions, method: str, args: tuple[Any, ...]) -> Transaction:
    """The transaction to send, with nonce and chain id filled in from the node if needed."""
    if options.signer is None:
        raise CliError("say who sends: --from NAME or --key PATH")
    sender = resolve_account(options.signer, options.keys_dir, "--from")
    chain_id, nonce = options.chain_id, options.nonce
    if options.offline and (chain_id is None or nonce is None):
        raise CliError("--offline needs --chain-id and --nonce (no node is asked)")
    if chain_id is None:
        chain_id = str(options.client().status()["chain_id"])
    if nonce is None:
        nonce = int(options.client().account(address_to_text(sender))["nonce"])
    tx = Transaction(chain_id, sender, nonce, method, args, options.expiry_ms)
    try:
        Transaction.decode(tx.encode())  # the bounds a node applies, checked before signing
    except CodecError as exc:
        raise CliError(f"cannot encode the transaction: {exc.message}") from exc
    return tx


def send(options: SendOptions, method: str, args: tuple[Any, ...]) -> None:
    """Build, sign, submit and optionally wait; print the outcome."""
    tx = build(options, method, args)
    output = options.output()
    if options.unsigned:
        if options.out is not None:
            write_signing_file(options.out, tx, [])
            output.emit({"signing_file": str(options.out), "hash": tx.hash.hex()})
            return
        output.emit({"unsigned_tx": tx.encode().hex(), "hash": tx.hash.hex()})
        return
    if options.out is not None:
        raise CliError("--out writes a signing file: use it with --unsigned")
    if options.signer is None:  # build() already refused; keeps the type checker informed
        raise CliError("say who sends: --from NAME or --key PATH")
    names = options.sign_with or (options.signer,)
    keys = [load_key(name, options.keys_dir, options.passphrase_file) for name in names]
    if options.offline:
        stx = tx.sign(*keys)
        output.emit({"signed_tx": stx.encode().hex(), "hash": stx.hash.hex()})
        return
    client = options.client()
    stx, admission = ride_out_busy(
        options.busy_wait,
        lambda until, on_wait: sign_and_submit(
            client,
            tx,
            keys,
            nonce_fixed=options.nonce is not None,
            busy_until=until,
            on_wait=on_wait,
        ),
    )
    report(client, stx, admission, options.wait, output)


def report(
    client: NodeClient, stx: SignedTransaction, admission: Any, wait: float, out: Output
) -> None:
    """Print the admission, or wait for and print the outcome (a rejection is an error)."""
    if not wait:
        out.emit(admission, human_admission)
        return
    outcome = client.tx(stx.hash.hex(), wait)
    out.emit(outcome, outcome_lines(Display(client)))
    if outcome["status"] == "rejected":
        receipt = outcome["receipt"]
        raise CliError(f"transaction rejected: {receipt['message']} ({receipt['code']})")


# Event attributes that name accounts: shown as addresses to people (JSON keeps {"hex"}).
ACCOUNT_ATTRIBUTES = frozenset(
    {
        "from",
        "to",
        "issuer",
        "seller",
        "buyer",
        "platform",
        "account",
        "member",
        "owner",
        "arbiter",
        "sender",
        "recipient",
        "merchant",
        "payer",
    }
)


def human_value(name: str, value: Any) -> str:
    if name in ACCOUNT_ATTRIBUTES and isinstance(value, dict) and set(value) == {"hex"}:
        raw = bytes.fromhex(value["hex"])
        if len(raw) == 32:
            return address_to_text(raw)
    return compact(value)


def human_admission(admission: Any) -> list[str]:
    return [f"submitted {admission['hash']} ({admission['code']})"]


def outcome_lines(display: Display) -> Callable[[Any], list[str]]:
    """A transaction's outcome for people: amounts with decimals, times as dates."""

    def human(outcome: Any) -> list[str]:
        status = outcome["status"]
        lines = [f"tx {outcome['hash']}: {status}"]
        if status in ("committed", "rejected"):
            lines.append(f"  height {outcome['height']}, index {outcome['index']}")
            receipt = outcome["receipt"]
            if not receipt["ok"]:
                lines.append(f"  {receipt['code']}: {receipt['message']}")
            for event in receipt["events"]:
                attributes = ", ".join(display.attributes(event["attributes"], human_value))
                lines.append(f"  event {event['name']}: {attributes}")
        elif status == "pending":
            lines.append("  still waiting in the mempool")
        return lines

    return human


@click.group("tx")
def tx() -> None:
    """Build, sign and submit transactions."""


@tx.command("transfer")
@send_options
@click.option("--to", "target", required=True, help="address or key name")
@click.option("--asset", required=True, help="asset symbol, e.g. IDRA")
@click.option("--amount", type=click.IntRange(1), required=True, help="in minor units")
@click.option("--memo", default=None)
def transfer(options: SendOptions, target: str, asset: str, amount: int, memo: str | None) -> None:
    """Move AMOUNT of an asset to another account (coin.transfer)."""
    args: tuple[Any, ...] = (asset, options.account(target, "--to"), amount)
    send(options, "coin.transfer", args if memo is None else (*args, memo))


@tx.command("create-asset")
@send_options
@click.option("--symbol", required=True)
@click.option("--name", required=True)
@click.option("--decimals", type=click.IntRange(0, 18), default=2, show_default=True)
@click.option("--cap", type=click.IntRange(1), required=True, help="maximum supply, minor units")
def create_asset(options: SendOptions, symbol: str, name: str, decimals: int, cap: int) -> None:
    """Create an open asset; the sender becomes its issuer (coin.create)."""
    send(options, "coin.create", (symbol, name, decimals, cap))


@tx.command("mint")
@send_options
@click.option("--asset", required=True)
@click.option("--to", "target", required=True, help="address or key name")
@click.option("--amount", type=click.IntRange(1), required=True)
def mint(options: SendOptions, asset: str, target: str, amount: int) -> None:
    """Issue new units of an asset you issued (coin.mint)."""
    send(options, "coin.mint", (asset, options.account(target, "--to"), amount))


@tx.command("burn")
@send_options
@click.option("--asset", required=True)
@click.option("--amount", type=click.IntRange(1), required=True)
def burn(options: SendOptions, asset: str, amount: int) -> None:
    """Destroy units of an asset you issued, from your own balance (coin.burn)."""
    send(options, "coin.burn", (asset, amount))


def parse_arg(text: str) -> Any:
    """One --arg: JSON when it parses (numbers, {"hex": ...}, lists), otherwise plain text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@tx.command("call")
@send_options
@click.argument("method")
@click.option("--arg", "raw_args", multiple=True, help="one positional argument (repeat)")
def call(options: SendOptions, method: str, raw_args: tuple[str, ...]) -> None:
    """Call any contract METHOD (e.g. payment.pay) with positional --arg values."""
    try:
        args = args_from_json(method, [parse_arg(text) for text in raw_args])
    except JsonValueError as exc:
        raise CliError(f"--arg {exc.path}: {exc.message}") from exc
    send(options, method, args)


@tx.command("sign")
@click.argument("target")
@click.option("--from", "--key", "signer", required=True, help="key name or path")
@keys_dir_option
@passphrase_file_option
@json_option
def sign(
    target: str, signer: str, keys_dir: Path, passphrase_file: Path | None, json_mode: bool
) -> None:
    """Sign offline: TARGET is a signing file (adds this key's signature to it, in place)
    or the hex of an unsigned transaction (from --unsigned or POST /v1/txs/encode)."""
    if is_signing_file(target):
        path = Path(target)
        unsigned, signatures = read_signing_file(path)
        key = load_key(signer, keys_dir, passphrase_file)
        merged = dict(signatures)
        merged.update([unsigned.signature_by(key)])
        write_signing_file(path, unsigned, list(merged.items()))
        Output(json_mode).emit(
            {
                "signing_file": str(path),
                "hash": unsigned.hash.hex(),
                "signed_by": address_to_text(key.public_key),
                "signers": [address_to_text(k) for k in sorted(merged)],
            },
            lambda body: [
                f"signed {body['signing_file']} with {body['signed_by']}",
                f"  signers so far: {', '.join(body['signers'])}",
            ],
        )
        return
    try:
        unsigned = Transaction.decode(bytes.fromhex(hex_digits(target)))
    except (ValueError, CodecError) as exc:
        raise CliError(f"not an unsigned transaction or a signing file: {exc}") from exc
    key = load_key(signer, keys_dir, passphrase_file)
    if key.public_key != unsigned.sender:
        raise CliError(
            "this key is not the transaction's sender: to co-sign, write a signing file"
            " with --unsigned --out FILE and sign that"
        )
    stx = unsigned.sign(key)
    Output(json_mode).emit({"signed_tx": stx.encode().hex(), "hash": stx.hash.hex()})


@tx.command("submit")
@click.argument("target")
@node_url_option
@wait_option
@busy_wait_option
@json_option
def submit(target: str, node_url: str, wait: float, busy_wait: float, json_mode: bool) -> None:
    """Submit a signed transaction: a signing file, or hex from `pasar tx sign`/--offline."""
    if is_signing_file(target):
        stx = signed_from_file(Path(target))
    else:
        try:
            stx = SignedTransaction.decode(bytes.fromhex(hex_digits(target)))
        except (ValueError, CodecError) as exc:
            raise CliError(f"not a signed transaction or a signing file: {exc}") from exc
    client = NodeClient(node_url)
    try:
        admission = ride_out_busy(
            busy_wait, lambda until, on_wait: submit_signed(client, stx, until, on_wait=on_wait)
        )
    except NodeReplyError as exc:
        if exc.code == "insufficient_signatures" and is_signing_file(target):
            raise CliError(
                f"{exc.message}; add signatures with `pasar tx sign {target} --key NAME`"
            ) from exc
        raise
    report(client, stx, admission, wait, Output(json_mode))


def register(group: click.Group) -> None:
    group.add_command(tx)
