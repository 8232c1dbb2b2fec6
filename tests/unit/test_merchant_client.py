"""The merchant SDK's local behaviour: arguments, checkout links and typed errors
without a chain (the node-facing calls are tested on real validators in
tests/integration/test_merchant_sdk.py)."""

from __future__ import annotations

import socket

import pytest

from cli.merchant import Merchant, MerchantError, NodeUnreachable
from ledger.keys import PrivateKey, address_to_text

KEY = PrivateKey.from_seed(bytes([9]) * 32)
INVOICE = "AB" * 32


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_account_defaults_to_the_key_and_is_normalised() -> None:
    assert Merchant("http://127.0.0.1:1", key=KEY).account == address_to_text(KEY.public_key)
    hex_account = Merchant("http://127.0.0.1:1", KEY.public_key.hex())
    assert hex_account.account == address_to_text(KEY.public_key)
    with pytest.raises(MerchantError) as neither:
        Merchant("http://127.0.0.1:1")
    assert neither.value.code == "bad_account"
    with pytest.raises(MerchantError) as bad:
        Merchant("http://127.0.0.1:1", "pasar1nope")
    assert bad.value.code == "bad_address"


def test_checkout_url_uses_the_public_base_and_encodes_the_return() -> None:
    merchant = Merchant("http://127.0.0.1:1/", key=KEY, checkout_base="https://pay.example/")
    assert merchant.checkout_url(INVOICE) == f"https://pay.example/pay/{INVOICE.lower()}"
    assert merchant.checkout_url("0x" + INVOICE, "https://shop.example/back?id=7&x=a b") == (
        f"https://pay.example/pay/{INVOICE.lower()}"
        "?return=https%3A%2F%2Fshop.example%2Fback%3Fid%3D7%26x%3Da+b"
    )
    with pytest.raises(MerchantError) as bad:
        merchant.checkout_url("../v1/status")
    assert bad.value.code == "bad_id"


def test_an_absent_node_is_node_unreachable() -> None:
    merchant = Merchant(f"http://127.0.0.1:{closed_port()}", key=KEY, timeout_s=2)
    with pytest.raises(NodeUnreachable) as absent:
        merchant.invoice(INVOICE)
    assert absent.value.code == "node_unreachable"
    with pytest.raises(NodeUnreachable):
        merchant.create_invoice(100, "IDR")


def test_writes_need_a_key() -> None:
    reader = Merchant(f"http://127.0.0.1:{closed_port()}", address_to_text(KEY.public_key))
    with pytest.raises(MerchantError) as keyless:
        reader.ship(INVOICE, "tracking")
    assert keyless.value.code == "no_key"
