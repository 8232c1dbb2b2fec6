"""The merchant SDK's webhook check on the shared vectors (tests/vectors/webhooks.json).

The JavaScript SDK runs the same cases (web/tests/merchant.test.js). Each case is
a request a shop might receive: good, rotated secrets, tampered body/id/timestamp,
old or future timestamps, malformed headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from cli.merchant import WebhookVerificationError, verify_webhook
from tests.vectors.webhook_vectors import build, render

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "webhooks.json"
CASES: list[dict[str, Any]] = json.loads(VECTORS.read_text(encoding="utf-8"))["cases"]


def test_vector_file_is_generated_from_the_relay_signer() -> None:
    assert VECTORS.read_text(encoding="utf-8") == render(build())


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_verify_webhook_reaches_the_expected_outcome(case: dict[str, Any]) -> None:
    arguments = (case["secrets"], case["headers"], case["body"].encode())
    options = {"now": case["now"], "tolerance_s": case["tolerance_s"]}
    if case["expect"]["ok"]:
        event = verify_webhook(*arguments, **options)
        assert (event.id, event.type) == (case["expect"]["id"], case["expect"]["type"])
        assert event.data["id"] == event.id
        assert event.invoice_id == "ab" * 32 and event.tx_hash == "cd" * 32
    else:
        with pytest.raises(WebhookVerificationError):
            verify_webhook(*arguments, **options)


def test_good_signature_recomputed_from_the_specification() -> None:
    """HMAC-SHA256 with the base64 key after `whsec_`, over `id.timestamp.body`."""
    case = next(case for case in CASES if case["name"] == "good")
    key = base64.b64decode(case["secrets"][0].removeprefix("whsec_"))
    headers = case["headers"]
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{case['body']}".encode()
    digest = hmac.new(key, content, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(digest).decode()


def test_every_refusal_reason_is_covered() -> None:
    reasons = {case["expect"].get("reason") for case in CASES if not case["expect"]["ok"]}
    assert reasons == {"signature", "timestamp", "headers", "body"}


def test_default_clock_refuses_a_replayed_vector() -> None:
    """Without `now` the receiver's own clock is used: the 2025 vector is long stale."""
    case = CASES[0]
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(case["secrets"], case["headers"], case["body"].encode())


def test_no_secret_is_a_programming_error_not_a_refused_webhook() -> None:
    case = CASES[0]
    with pytest.raises(ValueError, match="at least one secret"):
        verify_webhook([], case["headers"], case["body"].encode(), now=case["now"])
