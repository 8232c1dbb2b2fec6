"""The validator-set schedule kept in state.

The set that signs height h is the newest entry whose start height is <= h.
Genesis writes the first entry (from height 1); a committed governance decision
appends one that starts at a stated later height, so every replica switches sets
at exactly the same block.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger import codec
from ledger.kv import KVReader
from ledger.state import StateView

VALIDATOR_SCHEDULE_KEY = b"sys/validators"
# The event a governance transaction emits for each schedule entry it writes
# (attributes start_height and validators); the chain indexes it so proof bundles
# can carry the transaction behind each set change.
VALIDATORS_SCHEDULED_EVENT = "governance.validators_scheduled"


def validator_schedule(reader: KVReader) -> list[tuple[int, tuple[bytes, ...]]]:
    """[(start_height, validators), ...] in increasing start height."""
    raw = reader.get(VALIDATOR_SCHEDULE_KEY)
    if raw is None:
        return []
    return [(int(start), tuple(keys)) for start, keys in codec.decode(raw)]


def validators_at(reader: KVReader, height: int) -> tuple[bytes, ...]:
    """The validator set that votes on block `height`."""
    chosen: tuple[bytes, ...] = ()
    for start, keys in validator_schedule(reader):
        if start <= height:
            chosen = keys
    return chosen


def schedule_validators(state: StateView, start_height: int, validators: Sequence[bytes]) -> None:
    """Make `validators` the set from `start_height` on, replacing later entries."""
    schedule = [(start, keys) for start, keys in validator_schedule(state) if start < start_height]
    schedule.append((start_height, tuple(validators)))
    state.put_value(VALIDATOR_SCHEDULE_KEY, [[start, list(keys)] for start, keys in schedule])
