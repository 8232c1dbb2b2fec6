"""Checking a webhook from `pasar webhooks` before trusting it (Standard Webhooks).

The signature check itself is the relay's own (`cli.webhooks.signing.verify`:
HMAC-SHA256 over `id.timestamp.body`, constant-time comparison, timestamp
tolerance, several secrets during a rotation); this module adds the shop's side:
the receiver's clock by default and the parsed, typed event.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence

from cli.merchant.models import WebhookEvent
from cli.webhooks.signing import DEFAULT_TOLERANCE_S, WebhookVerificationError, verify


def verify_webhook(
    secrets: str | Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: int | None = None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> WebhookEvent:
    """The event a webhook carries, once its signature and timestamp check out.

    `secrets` is the endpoint's `whsec_...` secret, or a list of them while you rotate
    (any one matching is enough). `body` must be the raw request bytes, before any
    JSON parsing. `now` defaults to this machine's clock, in seconds. Raises
    WebhookVerificationError (answer 400) when the message is not from your relay,
    was altered, or is older than `tolerance_s`.
    """
    message_id = verify(
        secrets,
        headers,
        body,
        now=int(time.time()) if now is None else now,
        tolerance_s=tolerance_s,
    )
    try:
        document = json.loads(body)
        event_type = document["type"]
        timestamp_ms = document["timestamp_ms"]
        data = document["data"]
    except (ValueError, KeyError, TypeError) as exc:
        raise WebhookVerificationError(f"the signed body is not a webhook event: {exc}") from exc
    if not isinstance(event_type, str) or not isinstance(data, dict):
        raise WebhookVerificationError("the signed body is not a webhook event")
    if isinstance(timestamp_ms, bool) or not isinstance(timestamp_ms, int):
        raise WebhookVerificationError("the signed body's timestamp_ms is not an integer")
    return WebhookEvent(message_id, event_type, timestamp_ms, data)
