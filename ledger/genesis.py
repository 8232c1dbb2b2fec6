"""Genesis: the chain id, start time, first validator set and initial app state.

    Genesis = [7, 1, chain_id, genesis_time_ms, [[validator_key, name], ...], app_state]

`app_state` is a canonical value the contracts interpret (assets, balances,
roles). Its hash is the `prev_hash` of block 1, so two nodes with different
genesis files can never agree on any block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger import codec
from ledger.errors import CodecError
from ledger.hashing import tagged_hash
from ledger.keys import PUBLIC_KEY_SIZE
from ledger.tx import MAX_CHAIN_ID, MAX_TIME_MS

# Genesis is the operator's own input, not a peer's, and a platform that moves its
# existing customers' balances onto the chain lists each of them there: the default
# 1 MiB decode limit would stop it at roughly 15,000 balances.
MAX_GENESIS_BYTES = 64 << 20

TAG_GENESIS = 7
GENESIS_VERSION = 1
GENESIS_DOMAIN = b"pasar/genesis"


@dataclass(frozen=True)
class Genesis:
    chain_id: str
    genesis_time_ms: int
    validators: tuple[tuple[bytes, str], ...]
    app_state: Any

    def to_list(self) -> list[Any]:
        return [
            TAG_GENESIS,
            GENESIS_VERSION,
            self.chain_id,
            self.genesis_time_ms,
            [[key, name] for key, name in self.validators],
            self.app_state,
        ]

    def encode(self) -> bytes:
        return codec.encode(self.to_list())

    @property
    def hash(self) -> bytes:
        return tagged_hash(GENESIS_DOMAIN, self.encode())

    @property
    def validator_keys(self) -> tuple[bytes, ...]:
        return tuple(key for key, _ in self.validators)

    @staticmethod
    def from_list(value: Any) -> Genesis:
        fields = codec.expect_list(value, 6, "genesis")
        tag, version = fields[0], fields[1]
        if (
            isinstance(tag, bool)
            or isinstance(version, bool)
            or (tag, version)
            != (
                TAG_GENESIS,
                GENESIS_VERSION,
            )
        ):
            raise CodecError("bad_tag", "not a genesis document")
        if not isinstance(fields[4], list) or not fields[4]:
            raise CodecError("bad_type", "genesis needs at least one validator")
        validators = []
        for pair in fields[4]:
            key, name = codec.expect_list(pair, 2, "genesis validator")
            validators.append(
                (
                    codec.expect_bytes(key, "validator", PUBLIC_KEY_SIZE),
                    codec.expect_str(name, "name"),
                )
            )
        if len({key for key, _ in validators}) != len(validators):
            raise CodecError("duplicate_validator", "a validator appears twice in genesis")
        return Genesis(
            chain_id=codec.expect_str(fields[2], "chain_id", MAX_CHAIN_ID),
            genesis_time_ms=codec.expect_int(fields[3], "genesis_time_ms", 0, MAX_TIME_MS),
            validators=tuple(validators),
            app_state=fields[5],
        )

    @staticmethod
    def decode(data: bytes) -> Genesis:
        return Genesis.from_list(codec.decode(data, MAX_GENESIS_BYTES))
