"""Standard Webhooks signatures: `webhook-id`, `webhook-timestamp`, `webhook-signature`.

The signed content is `<id>.<timestamp>.<body>`; each signature is
`v1,<base64 HMAC-SHA256>` under a secret written `whsec_<base64 key>`. During a
secret rollover the relay signs with every configured secret, so the header holds
several space-separated signatures and a receiver holding either secret accepts.
Receivers (shops, tests) call `verify`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as secrets_module
from collections.abc import Mapping, Sequence

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_S = 300


class WebhookVerificationError(ValueError):
    """A webhook whose headers or signature do not check out."""


def new_secret() -> str:
    """A fresh `whsec_` secret with a 32-byte key."""
    return SECRET_PREFIX + base64.b64encode(secrets_module.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a `whsec_` secret (the prefix is optional)."""
    text = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a webhook secret must be whsec_ followed by base64") from exc
    if not key:
        raise ValueError("a webhook secret must not be empty")
    return key


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of `id.timestamp.body`."""
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign_headers(
    secrets: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every secret given."""
    if not secrets:
        raise ValueError("at least one secret is needed to sign")
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, message_id, timestamp, body) for s in secrets),
    }


def verify(
    secret: str | Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    now: int,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> str:
    """Check a received webhook; answer its id or raise WebhookVerificationError.

    `secret` is one `whsec_` secret, or several while the receiver rotates them (a
    signature under any of them is accepted). `headers` may use any letter case.
    `now` is the receiver's clock in seconds: a timestamp further than
    `tolerance_s` from it is refused, so a captured request cannot be replayed later.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    message_id = lowered.get("webhook-id")
    timestamp_text = lowered.get("webhook-timestamp")
    header = lowered.get("webhook-signature")
    if not message_id or not timestamp_text or not header:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or signature")
    # isascii: str.isdigit also accepts digits such as "²" that int() refuses.
    if not (timestamp_text.isascii() and timestamp_text.isdigit()):
        raise WebhookVerificationError("webhook-timestamp is not a number of seconds")
    timestamp = int(timestamp_text)
    if abs(now - timestamp) > tolerance_s:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance")
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise ValueError("at least one secret is needed to verify")
    expected = [signature(s, message_id, timestamp, body).encode() for s in secrets]
    candidates = [c.encode() for c in header.split() if c.partition(",")[0] == "v1"]
    # Compare every v1 candidate with every secret's signature in constant time, with
    # no early exit; other versions are ignored.
    matched = False
    for candidate in candidates:
        for wanted in expected:
            matched |= hmac.compare_digest(candidate, wanted)
    if matched:
        return message_id
    raise WebhookVerificationError("no signature matches the secret")
