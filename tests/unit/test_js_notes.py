"""Sealed order notes made in the browser's library and by the CLI open on the other side.

web/lib/sealedbox.js re-implements libsodium's sealed box (X25519 from the account's
Ed25519 key, BLAKE2b nonce, XSalsa20-Poly1305) for the shop page; cli/notes.py uses
libsodium itself. Both directions are checked on many keys and lengths, including
the longest note the ledger holds, and a note sealed for another key opens nowhere.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

from cli.notes import MAX_NOTE_PLAINTEXT, NoteError, open_note, seal_for_order, seal_note
from ledger.keys import PrivateKey

ROOT = Path(__file__).resolve().parents[2]


def _oracle(tmp_path: Path, cases: dict[str, Any]) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "Node.js 20 or newer is needed to test web/lib"
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases), encoding="utf-8")
    result = subprocess.run(
        [node, "web/tests/notes_oracle.js", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def _key(rng: random.Random) -> PrivateKey:
    return PrivateKey(rng.randbytes(32))


def test_notes_sealed_by_the_cli_open_in_the_browser_library(tmp_path: Path) -> None:
    rng = random.Random(13)
    cases: list[dict[str, Any]] = []
    expected: list[str | None] = []
    for index in range(24):
        seller, arbiter, stranger = _key(rng), _key(rng), _key(rng)
        size = [0, 1, 15, 16, 17, 63, 64, 65, MAX_NOTE_PLAINTEXT][index % 9]
        message = rng.randbytes(size)
        for_seller, for_arbiter = seal_for_order(message, seller.public_key, arbiter.public_key)
        reader = (seller, arbiter, stranger)[index % 3]
        cases.append(
            {"seed": reader.seed.hex(), "seller": for_seller.hex(), "arbiter": for_arbiter.hex()}
        )
        expected.append(None if reader is stranger else message.hex())
    answer = _oracle(tmp_path, {"open": cases, "seal": []})
    assert answer["opened"] == expected


def test_notes_sealed_in_the_browser_library_open_with_the_cli(tmp_path: Path) -> None:
    rng = random.Random(31)
    keys = [_key(rng) for _ in range(12)]
    messages = [rng.randbytes(size) for size in (0, 1, 16, 33, 64, 200, 500, MAX_NOTE_PLAINTEXT)]
    cases = [
        {
            "account": keys[i % len(keys)].public_key.hex(),
            "message": messages[i % len(messages)].hex(),
        }
        for i in range(24)
    ]
    cases.append({"account": "00" * 32, "message": "61"})  # small order: no X25519 form
    answer = _oracle(tmp_path, {"open": [], "seal": cases})
    sealed = answer["sealed"]
    assert "error" in sealed[-1]
    for i, box in enumerate(sealed[:-1]):
        key = keys[i % len(keys)]
        assert open_note(bytes.fromhex(box), key) == messages[i % len(messages)]
        other = keys[(i + 1) % len(keys)]
        try:
            open_note(bytes.fromhex(box), other)
        except NoteError:
            continue
        raise AssertionError("a note opened with another account's key")
    # The CLI refuses the same key the library refused.
    try:
        seal_note(b"a", bytes(32))
    except NoteError:
        return
    raise AssertionError("the CLI sealed to a key of small order")
