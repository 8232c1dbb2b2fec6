"""Generate webhooks.json: Standard Webhooks signature cases shared by the Python and
JavaScript merchant SDKs (tests/unit/test_merchant_webhooks.py, web/tests via
tests/unit/test_js_library.py).

Run from the repository root:  python tests/vectors/webhook_vectors.py
Each case gives the receiver's secrets, the request's headers and raw body (UTF-8
text), the receiver's clock `now` (seconds) and tolerance, and the outcome
`verify_webhook` must reach: {"ok": true, "id", "type"} or {"ok": false, "reason"}.
Signatures are made here with `cli.webhooks.signing` (the relay's own signer);
the tests also recompute the good ones from hashlib alone.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cli.webhooks.signing import sign_headers, signature  # noqa: E402

HERE = Path(__file__).resolve().parent
OLD = "whsec_" + base64.b64encode(bytes(range(32))).decode()
NEW = "whsec_" + base64.b64encode(bytes(range(32, 64))).decode()
MESSAGE_ID = "evt_12_0_1"
TIMESTAMP = 1764451200
TOLERANCE_S = 300
BODY = json.dumps(
    {
        "data": {
            "attributes": {"amount": 150000, "id": {"hex": "ab" * 32}, "symbol": "IDR"},
            "chain_event": "invoice.paid",
            "height": 12,
            "id": MESSAGE_ID,
            "tx_hash": "cd" * 32,
        },
        "timestamp_ms": TIMESTAMP * 1000 - 1000,
        "type": "invoice.paid",
    },
    sort_keys=True,
    separators=(",", ":"),
)


def case(
    name: str,
    secrets: list[str],
    headers: dict[str, str],
    ok: bool,
    reason: str = "",
    body: str = BODY,
    now: int = TIMESTAMP,
) -> dict[str, Any]:
    expect: dict[str, Any] = (
        {"ok": True, "id": MESSAGE_ID, "type": "invoice.paid"}
        if ok
        else {"ok": False, "reason": reason}
    )
    return {
        "name": name,
        "secrets": secrets,
        "headers": headers,
        "body": body,
        "now": now,
        "tolerance_s": TOLERANCE_S,
        "expect": expect,
    }


def signed(*secrets: str, message_id: str = MESSAGE_ID, body: str = BODY) -> dict[str, str]:
    return sign_headers(list(secrets), message_id, TIMESTAMP, body.encode())


def with_signature(value: str) -> dict[str, str]:
    return {**signed(OLD), "webhook-signature": value}


def build() -> dict[str, Any]:
    good = signed(OLD)
    old_sig = signature(OLD, MESSAGE_ID, TIMESTAMP, BODY.encode())
    not_json = "not json"
    cases = [
        case("good", [OLD], good, True),
        case(
            "header names in any case",
            [OLD],
            {key.title(): value for key, value in good.items()},
            True,
        ),
        case("rotation: relay signs with both, shop holds the new", [NEW], signed(OLD, NEW), True),
        case("rotation: shop holds both, relay still signs the old", [NEW, OLD], good, True),
        case(
            "a bad signature before the good one", [OLD], with_signature(f"v1,AAAA {old_sig}"), True
        ),
        case("timestamp at the tolerance", [OLD], good, True, now=TIMESTAMP + TOLERANCE_S),
        case("wrong secret", [NEW], good, False, "signature"),
        case(
            "tampered body", [OLD], good, False, "signature", body=BODY.replace("150000", "150001")
        ),
        case("tampered id", [OLD], {**good, "webhook-id": "evt_12_0_2"}, False, "signature"),
        case(
            "tampered timestamp",
            [OLD],
            {**good, "webhook-timestamp": str(TIMESTAMP + 1)},
            False,
            "signature",
            now=TIMESTAMP + 1,
        ),
        case("old timestamp", [OLD], good, False, "timestamp", now=TIMESTAMP + TOLERANCE_S + 1),
        case(
            "timestamp from the future",
            [OLD],
            good,
            False,
            "timestamp",
            now=TIMESTAMP - TOLERANCE_S - 1,
        ),
        case(
            "missing signature",
            [OLD],
            {k: v for k, v in good.items() if k != "webhook-signature"},
            False,
            "headers",
        ),
        case(
            "missing id",
            [OLD],
            {k: v for k, v in good.items() if k != "webhook-id"},
            False,
            "headers",
        ),
        case(
            "missing timestamp",
            [OLD],
            {k: v for k, v in good.items() if k != "webhook-timestamp"},
            False,
            "headers",
        ),
        case(
            "timestamp not a number", [OLD], {**good, "webhook-timestamp": "soon"}, False, "headers"
        ),
        case(
            "timestamp with a fraction",
            [OLD],
            {**good, "webhook-timestamp": f"{TIMESTAMP}.0"},
            False,
            "headers",
        ),
        case(
            "timestamp in non-ASCII digits",
            [OLD],
            {**good, "webhook-timestamp": "١٧٦٤٤٥١٢٠٠"},
            False,
            "headers",
        ),
        case("negative timestamp", [OLD], {**good, "webhook-timestamp": "-1"}, False, "headers"),
        case(
            "only a v2 signature",
            [OLD],
            with_signature(old_sig.replace("v1,", "v2,")),
            False,
            "signature",
        ),
        case("signature without a version", [OLD], with_signature(old_sig[3:]), False, "signature"),
        case(
            "signature that is not base64",
            [OLD],
            with_signature("v1,!!!not-base64!!!"),
            False,
            "signature",
        ),
        case("empty signature", [OLD], with_signature(""), False, "headers"),
        case(
            "signed body that is not an event",
            [OLD],
            signed(OLD, body=not_json),
            False,
            "body",
            body=not_json,
        ),
    ]
    return {
        "description": (
            "Standard Webhooks verification cases for the merchant SDKs: generated by "
            "tests/vectors/webhook_vectors.py"
        ),
        "cases": cases,
    }


def render(content: dict[str, Any]) -> str:
    return json.dumps(content, indent=1, ensure_ascii=False) + "\n"


def main() -> None:
    (HERE / "webhooks.json").write_text(render(build()), encoding="utf-8")


if __name__ == "__main__":
    main()
