"""`pasar verify FILE` and the `--prove` forms of `pasar query tx|account`.

A proof bundle (docs/protocol.md §10) is checked offline with ledger.bundle
against a trust anchor: the chain's genesis file (its validators from height 1)
or a validator set the user already trusts (`--validators`, `--chain-id`,
`--trusted-height`). The node that produced the bundle is not trusted at all.
`verify` exits 0 with a one-line summary, or 1 with a one-line reason.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import click

from cli.client import NodeClient
from cli.common import CliError
from contracts.coin import BALANCE_PREFIX
from ledger import codec
from ledger.bundle import (
    BundleError,
    StateBundle,
    TrustAnchor,
    TxBundle,
    decode_bundle,
    verify_state_bundle,
    verify_tx_bundle,
)
from ledger.errors import CodecError
from ledger.execution import NONCE_PREFIX
from ledger.keys import address_from_text
from node.home import HomeError, read_genesis

HEX_DIGITS = frozenset(string.hexdigits + string.whitespace)


class ProofRefused(click.ClickException):
    """A bundle that does not verify: exit code 1 and the reason on one line."""

    exit_code = 1

    def format_message(self) -> str:
        return f"refused: {self.message}"


def anchor_options(function: Any) -> Any:
    """--genesis or (--validators and --chain-id), with --trusted-height."""
    options = [
        click.option(
            "--genesis",
            "genesis_path",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="the chain's genesis.json: trust its validators from height 1",
        ),
        click.option("--validators", default=None, help="trusted validator addresses, a,b,c"),
        click.option("--chain-id", default=None, help="with --validators: the chain id"),
        click.option(
            "--trusted-height",
            type=click.IntRange(1),
            default=None,
            help="with --validators: the height from which that set is trusted",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def trust_anchor(
    genesis_path: Path | None,
    validators: str | None,
    chain_id: str | None,
    trusted_height: int | None,
) -> TrustAnchor:
    if genesis_path is not None:
        if validators is not None or chain_id is not None or trusted_height is not None:
            raise CliError("give either --genesis or --validators with --chain-id, not both")
        try:
            genesis = read_genesis(genesis_path)
        except HomeError as exc:
            raise CliError(str(exc)) from exc
        return TrustAnchor(genesis.chain_id, genesis.validator_keys)
    if validators is None or chain_id is None:
        raise CliError("give --genesis FILE, or --validators and --chain-id (and --trusted-height)")
    try:
        keys = tuple(address_from_text(item) for item in validators.split(",") if item.strip())
    except ValueError as exc:
        raise CliError(f"--validators: {exc}") from exc
    if not keys:
        raise CliError("--validators names no validator")
    return TrustAnchor(chain_id, keys, trusted_height or 1)


def read_bundle_file(path: Path) -> bytes:
    """The bundle bytes from FILE: raw canonical bytes, or the same in hex text."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from exc
    text = data.strip()
    if text and all(chr(byte) in HEX_DIGITS for byte in text):
        try:
            return bytes.fromhex(text.decode())
        except ValueError:
            pass  # not hex after all: try the raw bytes
    return data


def check_bundle(raw: bytes, anchor: TrustAnchor) -> str:
    """Verify a bundle; the one-line summary of what it proves, or ProofRefused."""
    try:
        bundle = decode_bundle(raw)
        if isinstance(bundle, TxBundle):
            verified = verify_tx_bundle(bundle, anchor)
            outcome = "applied" if verified.receipt.ok else f"rejected ({verified.receipt.code})"
            return (
                f"ok: tx {verified.tx_hash.hex()} is in block {verified.height} at index "
                f"{verified.index}, {outcome}"
            )
        proofs = verify_state_bundle(bundle, anchor)
        present = sum(1 for proof in proofs if proof.value is not None)
        return (
            f"ok: {len(proofs)} state keys at block {bundle.header.height} "
            f"({present} present, {len(proofs) - present} absent)"
        )
    except CodecError as exc:
        raise ProofRefused(f"malformed bundle: {exc.message}") from exc
    except BundleError as exc:
        raise ProofRefused(str(exc)) from exc


def proven_values(raw: bytes, anchor: TrustAnchor) -> tuple[StateBundle, list[tuple[bytes, Any]]]:
    check_bundle(raw, anchor)
    bundle = decode_bundle(raw)
    if not isinstance(bundle, StateBundle):
        raise ProofRefused("expected a state bundle")
    return bundle, [(proof.key, proof.value) for proof in bundle.proofs]


@click.command("verify")
@click.argument("bundle_file", type=click.Path(dir_okay=False, path_type=Path))
@anchor_options
def verify(
    bundle_file: Path,
    genesis_path: Path | None,
    validators: str | None,
    chain_id: str | None,
    trusted_height: int | None,
) -> None:
    """Check a proof bundle offline: exit 0 if it proves what it says, else 1 and why."""
    anchor = trust_anchor(genesis_path, validators, chain_id, trusted_height)
    click.echo(check_bundle(read_bundle_file(bundle_file), anchor))


def register(group: click.Group) -> None:
    group.add_command(verify)


skip_option = click.option(
    "--skip",
    is_flag=True,
    help="with --prove: cross validator-set changes by skipping (a header signed by more "
    "than a third of the trusted set) instead of one header per change",
)


def fetch_tx_bundle(
    client: NodeClient, tx_hash: str, wait: float, trusted: int | None, skip: bool = False
) -> Any:
    query = {"prove": "true", "trusted_height": str(trusted or 1)}
    if skip:
        query["skip"] = "true"
    if wait:
        query["wait"] = str(wait)
    data = client.request("GET", f"/v1/txs/{tx_hash}", query=query, timeout=wait + 15)
    if "bundle" not in data:
        raise CliError(f"tx {tx_hash} is {data.get('status', 'unknown')}: nothing to prove yet")
    return data


def prove_tx(
    client: NodeClient,
    tx_hash: str,
    wait: float,
    out: Path | None,
    anchor: TrustAnchor | None,
    skip: bool = False,
) -> list[str]:
    """Fetch a tx bundle, save it to `out`, check it if an anchor is given."""
    trusted = None if anchor is None else anchor.from_height
    data = fetch_tx_bundle(client, tx_hash, wait, trusted, skip)
    raw = bytes.fromhex(data["bundle"])
    lines = [
        f"tx {data['hash']} in block {data['height']} at index {data['index']}: {data['status']}"
        f" (certificate: {data['certificate']}, {data['validator_changes']} validator changes"
        f"{', skipping' if data.get('validator_skips') else ''})"
    ]
    if out is not None:
        try:
            out.write_bytes(raw)
        except OSError as exc:
            raise CliError(f"cannot write {out}: {exc.strerror or exc}") from exc
        lines.append(f"bundle saved to {out} ({len(raw)} bytes)")
    if anchor is not None:
        lines.append(check_bundle(raw, anchor))
    elif out is not None:
        lines.append(f"check it offline: pasar verify {out} --genesis genesis.json")
    return lines


def prove_account(
    client: NodeClient, address: str, symbols: str | None, anchor: TrustAnchor, skip: bool = False
) -> list[str]:
    """An account's nonce and balances, proven against the anchor, as lines."""
    query = {"prove": "true", "trusted_height": str(anchor.from_height)}
    if skip:
        query["skip"] = "true"
    if symbols:
        query["symbols"] = symbols
    data = client.request("GET", f"/v1/accounts/{address}", query=query)
    bundle, values = proven_values(bytes.fromhex(data["bundle"]), anchor)
    nonce_key = NONCE_PREFIX + address_from_text(address)
    balance_prefix = BALANCE_PREFIX + address_from_text(address) + b"/"
    lines = [f"account {address} at block {bundle.header.height} (proven)"]
    asked = {balance_prefix + symbol.encode() for symbol in data.get("proven_symbols", [])}
    if nonce_key not in {key for key, _ in values} or not asked <= {key for key, _ in values}:
        raise ProofRefused("the bundle does not cover the account's keys")
    for key, value in values:
        amount = 0 if value is None else codec.decode(value)
        if key == nonce_key:
            lines.append(f"  nonce {amount}")
        elif key.startswith(balance_prefix):
            symbol = key[len(balance_prefix) :].decode()
            shown = "absent (0)" if value is None else str(amount)
            lines.append(f"  {symbol:<12} {shown}")
    return lines
