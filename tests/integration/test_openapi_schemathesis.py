"""The API document is checked by a tool we did not write: schemathesis against a live node.

A real validator process on LevelDB (one-validator testnet on free loopback ports)
serves /openapi.json; `schemathesis run --checks all` generates requests from that
document alone (positive and negative data, stateful sequences through the
document's links) and checks every answer: no 5xx, status codes, content types,
response schemas, Allow headers, schema-valid input accepted, schema-invalid input
refused. Rules a schema cannot state are in schemathesis_hooks.py and
schemathesis.toml beside this file, each with its reason.

Set PASAR_SCHEMATHESIS_SEED to explore other inputs than the fixed default seed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import ROOT, LocalNet, http

HERE = Path(__file__).resolve().parent
EXAMPLES_PER_OPERATION = 25
DEFAULT_SEED = "20261129"


def operations(document: dict[str, Any]) -> int:
    """Operations schemathesis tests: all but the document's own URL, which it skips."""
    return sum(len(item) for path, item in document["paths"].items() if path != "/openapi.json")


@pytest.fixture
def node(tmp_path: Path) -> Iterator[LocalNet]:
    net = LocalNet(tmp_path / "net", count=1)
    try:
        net.start_all()
        # Committed history, so blocks, transactions and the event stream have data.
        results = net.submit(0, [net.transfer(0, 1, 5), net.transfer(1, 2, 7)])
        assert all(result["accepted"] for result in results), results
        net.wait_height([0], 1)
        yield net
    finally:
        net.close()


@pytest.mark.schemathesis
def test_schemathesis_finds_no_failure_against_a_live_node(node: LocalNet, tmp_path: Path) -> None:
    url = node.url(0, "/openapi.json")
    code, document = http("GET", url)
    assert code == 200
    assert {"/metrics", "/health", "/ready", "/v1/genesis"} <= set(document["paths"])
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        url,
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        os.environ.get("PASAR_SCHEMATHESIS_SEED", DEFAULT_SEED),
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--generation-database",
        "none",
        "--no-color",
    ]
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        SCHEMATHESIS_HOOKS="tests.integration.schemathesis_hooks",
    )
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-12_000:]
    # It really ran: every operation of the document was tested and every case passed.
    selected = re.search(r"Selected: (\d+)/(\d+)", output)
    tested = re.search(r"Tested: (\d+)", output)
    cases = re.search(r"(\d+) generated, (\d+) passed", output)
    assert selected and tested and cases, output[-4000:]
    assert int(tested.group(1)) == int(selected.group(2)) == operations(document)
    assert int(cases.group(1)) == int(cases.group(2)) > 0
    # The node is still healthy after the run.
    assert http("GET", node.url(0, "/ready"))[0] == 200
