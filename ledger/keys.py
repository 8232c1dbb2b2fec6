"""Ed25519 keys, domain-bound signatures and account addresses.

A signature covers (domain ‖ chain id ‖ digest), so a signature made for one kind
of message or one chain can never be replayed as another. An account is its
32-byte Ed25519 public key; its text form is `pasar1` + base32(key ‖ checksum),
so a mistyped address is caught before any money moves.
"""

from __future__ import annotations

import base64
import ctypes
import functools
import importlib.util
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

import nacl.bindings
import nacl.exceptions
import nacl.signing

from ledger.hashing import ADDRESS, tagged_hash

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
SEED_SIZE = 32
ADDRESS_PREFIX = "pasar1"


def signing_message(domain: bytes, chain_id: str, digest: bytes) -> bytes:
    """The exact bytes an Ed25519 signature covers."""
    chain = chain_id.encode("utf-8")
    if len(domain) > 255 or len(chain) > 255:
        raise ValueError("domain or chain id too long")
    return bytes([len(domain)]) + domain + bytes([len(chain)]) + chain + digest


@dataclass(frozen=True, slots=True)
class PrivateKey:
    """An Ed25519 signing key held in memory.

    Its key pair (public key, expanded secret) is derived from the seed once, on
    first use, and kept: deriving it is a scalar multiplication as costly as a
    signature, and a validator signs two or three votes per block with one key."""

    seed: bytes
    _pair: tuple[bytes, bytes] | None = field(default=None, init=False, repr=False, compare=False)

    @staticmethod
    def generate() -> PrivateKey:
        return PrivateKey(bytes(nacl.signing.SigningKey.generate()))

    @staticmethod
    def from_seed(seed: bytes) -> PrivateKey:
        if len(seed) != SEED_SIZE:
            raise ValueError("an Ed25519 seed is 32 bytes")
        return PrivateKey(bytes(seed))

    def _key_pair(self) -> tuple[bytes, bytes]:
        pair = self._pair
        if pair is None:
            public = bytes(nacl.signing.SigningKey(self.seed).verify_key)
            pair = (public, self.seed + public)  # libsodium's secret key: seed ‖ public key
            object.__setattr__(self, "_pair", pair)  # a cache of a pure function of the seed
        return pair

    @property
    def public_key(self) -> bytes:
        return self._key_pair()[0]

    def sign(self, domain: bytes, chain_id: str, digest: bytes) -> bytes:
        message = signing_message(domain, chain_id, digest)
        return nacl.bindings.crypto_sign(message, self._key_pair()[1])[:SIGNATURE_SIZE]

    def __repr__(self) -> str:  # never print key material
        return f"PrivateKey(public={address_to_text(self.public_key)})"


def verify(
    public_key: bytes, domain: bytes, chain_id: str, digest: bytes, signature: bytes
) -> bool:
    """True when `signature` is `public_key`'s signature over the bound digest."""
    if len(public_key) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        nacl.bindings.crypto_sign_open(
            signature + signing_message(domain, chain_id, digest), public_key
        )
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError):
        return False
    return True


SignatureCheck = tuple[bytes, bytes, str, bytes, bytes]


def _verifier_holding_the_lock() -> Callable[[bytes, bytes, int, bytes], int] | None:
    """libsodium's `crypto_sign_verify_detached`, called with the interpreter lock held
    throughout, or None where it cannot be had.

    PyNaCl gives the lock up for every check, which lets other threads run meanwhile
    but makes the caller take it back afterwards: with another thread running Python,
    that waits for the switch interval (5 ms). A few checks on the event loop (a
    vote, a small gossip batch) then held it 5 ms each instead of 0.05 (37 checks:
    195 ms against 2). The function is the one PyNaCl's own module carries (its
    `crypto_sign_open`, which `verify` calls, checks with it too), so both take
    exactly the same signatures; ctypes' PyDLL calls it without letting go of the
    lock."""
    spec = importlib.util.find_spec("nacl._sodium")
    if spec is None or spec.origin is None:
        return None
    try:
        function = ctypes.PyDLL(spec.origin).crypto_sign_verify_detached
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulonglong, ctypes.c_char_p)
    function.restype = ctypes.c_int
    return function


_VERIFY_HOLDING_THE_LOCK = _verifier_holding_the_lock()


def verify_inline(
    public_key: bytes, domain: bytes, chain_id: str, digest: bytes, signature: bytes
) -> bool:
    """`verify`, keeping the interpreter lock through the check: for the few checks a
    thread that must not wait (the event loop) makes itself. Many checks belong on
    worker threads, with `verify`, where they run beside each other."""
    held = _VERIFY_HOLDING_THE_LOCK
    if held is None:
        return verify(public_key, domain, chain_id, digest, signature)
    if len(public_key) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    message = signing_message(domain, chain_id, digest)
    return held(signature, message, len(message), public_key) == 0


def verify_each_inline(checks: Iterable[SignatureCheck]) -> list[bool]:
    """`verify_inline` of each check, in order, on the calling thread."""
    return [verify_inline(*check) for check in checks]


class RememberedChecks:
    """`verify_inline` in one domain, remembering the signatures that verified.

    Its checks are few (votes, proposals, a certificate's) and made where waiting is
    dear, the consensus driver's on the event loop: the lock is kept through them.
    For signatures a node meets more than once (a commit vote as it arrives and again
    in the next block's certificate; a proposal's from its head, by the driver's
    screen and by the replica). Only successes are kept, keyed by every input, so a
    hit is the answer `verify` would give again. Bounded: emptied when full (the
    signatures in use are a few blocks' worth)."""

    def __init__(self, domain: bytes, kept: int = 4096) -> None:
        self.domain = domain
        self.kept = kept
        self._good: set[tuple[bytes, bytes, bytes, str]] = set()

    def verify(self, public_key: bytes, chain_id: str, digest: bytes, signature: bytes) -> bool:
        if (public_key, signature, digest, chain_id) in self._good:
            return True
        if not verify_inline(public_key, self.domain, chain_id, digest, signature):
            return False
        self.remember(public_key, chain_id, digest, signature)
        return True

    def remember(self, public_key: bytes, chain_id: str, digest: bytes, signature: bytes) -> None:
        """Note a signature known good (one this node just made, say)."""
        if len(self._good) >= self.kept:
            self._good.clear()
        self._good.add((public_key, signature, digest, chain_id))

    def forget(self) -> None:
        self._good.clear()


def verify_many(checks: Sequence[SignatureCheck], executor: Executor | None = None) -> list[bool]:
    """Verify many signatures, spread over an executor's threads when one is given.

    PyNaCl releases the GIL while verifying, so a thread pool uses every core.
    """
    if executor is None or len(checks) < 64:
        return verify_each(checks)
    chunk = max(64, len(checks) // 8)
    parts = [checks[i : i + chunk] for i in range(0, len(checks), chunk)]
    results: list[bool] = []
    for part in executor.map(verify_each, parts):
        results.extend(part)
    return results


def verify_each(checks: Iterable[SignatureCheck]) -> list[bool]:
    """`verify` of each check, in order, on the calling thread."""
    return [verify(*check) for check in checks]


def _checksum(public_key: bytes) -> bytes:
    return tagged_hash(ADDRESS, public_key)[:4]


# Text forms kept for the accounts seen last. A block's summary names every sender,
# and base32 with its checksum hash costs some 5 µs an account in pure Python: the
# same few thousand active accounts recur block after block. 8,192 entries hold
# about 2 MB.
ADDRESS_TEXT_CACHE = 8192


def address_to_text(public_key: bytes) -> str:
    """Readable form of an account: `pasar1` + base32(key ‖ 4-byte checksum)."""
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise ValueError("an account is a 32-byte public key")
    return _address_text(bytes(public_key))


@functools.lru_cache(maxsize=ADDRESS_TEXT_CACHE)
def _address_text(public_key: bytes) -> str:
    body = base64.b32encode(public_key + _checksum(public_key)).decode("ascii")
    return ADDRESS_PREFIX + body.rstrip("=").lower()


def address_from_text(text: str) -> bytes:
    """Parse an address, also accepting 64 hex digits; raise ValueError on a bad one."""
    text = text.strip()
    if len(text) == 2 * PUBLIC_KEY_SIZE:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    if not text.startswith(ADDRESS_PREFIX):
        raise ValueError(f"an address starts with {ADDRESS_PREFIX!r} or is 64 hex digits")
    body = text[len(ADDRESS_PREFIX) :].upper()
    body += "=" * (-len(body) % 8)
    try:
        raw = base64.b32decode(body)
    except (ValueError, base64.binascii.Error) as exc:  # type: ignore[attr-defined]
        raise ValueError("address is not valid base32") from exc
    if len(raw) != PUBLIC_KEY_SIZE + 4:
        raise ValueError("address has the wrong length")
    public_key, checksum = raw[:PUBLIC_KEY_SIZE], raw[PUBLIC_KEY_SIZE:]
    if _checksum(public_key) != checksum:
        raise ValueError("address checksum does not match (typo?)")
    if address_to_text(public_key) != ADDRESS_PREFIX + body.rstrip("=").lower():
        # The last character carries two unused bits; only the form with them zero
        # is accepted, so one account has exactly one text form.
        raise ValueError("address is not in canonical form (typo in the last character?)")
    return public_key
