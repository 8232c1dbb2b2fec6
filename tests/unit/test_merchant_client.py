"""The merchant SDK's local behaviour: arguments, checkout links and typed errors
without a chain (the node-facing calls are tested on real validators in
tests/integration/test_merchant_sdk.py)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from cli.client import NodeReplyError, StreamQuiet
from cli.merchant import InvoiceClosed, Merchant, MerchantError, NodeUnreachable
from cli.merchant.client import STREAM_READ_S
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


class StreamingNode:
    """A stand-in for NodeClient: invoice statuses answered in turn, and scripted
    event streams (a list of events, or an exception the stream raises)."""

    def __init__(self, statuses: list[str], streams: list[list[dict[str, Any]] | Exception]):
        self.statuses = statuses
        self.streams = streams
        self.reads = 0
        self.cursors: list[str] = []

    def status(self) -> dict[str, Any]:
        return {"chain_id": "t", "height": 7}

    def request(self, method: str, path: str, **_: Any) -> dict[str, Any]:
        assert (method, path) == ("GET", f"/v1/invoices/{INVOICE.lower()}")
        status = self.statuses[min(self.reads, len(self.statuses) - 1)]
        self.reads += 1
        return {
            "id": INVOICE.lower(), "number": 1, "merchant": "m", "symbol": "IDR",
            "amount": 10, "expiry_ms": 5_000, "reference": "", "metadata": "",
            "created_ms": 1_000, "status": status,
        }  # fmt: skip

    def events(
        self, query: dict[str, str], read_timeout: float, keepalives: bool
    ) -> Iterator[dict[str, Any]]:
        assert keepalives and 0 < read_timeout <= STREAM_READ_S
        self.cursors.append(query["cursor"])
        script = self.streams.pop(0)
        if isinstance(script, Exception):
            raise script
        yield from script


def waiting_merchant(node: StreamingNode) -> Merchant:
    merchant = Merchant("http://127.0.0.1:1", key=KEY)
    merchant.client = node  # type: ignore[assignment]
    return merchant


def test_waiting_reads_the_invoice_again_only_when_an_event_may_change_it() -> None:
    node = StreamingNode(
        ["open", "paid"],
        [
            [
                {"event": "keepalive"},
                {"event": "block", "id": "8", "data": {"timestamp_ms": 4_000}},
                {"event": "tx", "id": "8/0", "data": {}},
            ]
        ],
    )
    assert waiting_merchant(node).wait_for_payment(INVOICE, timeout_s=30).status == "paid"
    # one read before the stream, one after the transaction; the earlier block is
    # before the expiry and changes nothing; the stream starts at the height read first
    assert (node.reads, node.cursors) == (2, ["7"])


def test_a_block_past_the_expiry_ends_the_wait_as_expired() -> None:
    node = StreamingNode(
        ["open", "expired"], [[{"event": "block", "id": "9", "data": {"timestamp_ms": 5_001}}]]
    )
    with pytest.raises(InvoiceClosed) as closed:
        waiting_merchant(node).wait_for_payment(INVOICE, timeout_s=30)
    assert (closed.value.code, node.reads) == ("invoice_expired", 2)


def test_a_quiet_stream_resumes_from_its_cursor() -> None:
    node = StreamingNode(
        ["open", "open", "paid"],
        [
            [
                {"event": "block", "id": "8", "data": {"timestamp_ms": 1}},
                {"event": "tx", "id": "8/2"},
            ],
            StreamQuiet("quiet"),
            [{"event": "tx", "id": "9/0", "data": {}}],
        ],
    )
    assert waiting_merchant(node).wait_for_payment(INVOICE, timeout_s=30).status == "paid"
    assert (node.reads, node.cursors) == (3, ["7", "8/2", "8/2"])


def test_a_refused_stream_falls_back_to_polling() -> None:
    busy = NodeReplyError("too many event streams", "too_many_streams", 429)
    node = StreamingNode(["open", "open", "paid"], [busy, busy, busy])
    merchant = waiting_merchant(node)
    assert merchant.wait_for_payment(INVOICE, timeout_s=30, poll_s=0.01).status == "paid"
    assert (node.reads, len(node.streams)) == (3, 1)
