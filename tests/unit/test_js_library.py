"""Run the JavaScript library's tests (web/tests, node's own test runner) under pytest.

The browser pages, the JS verifier and the merchant SDK share web/lib; its tests
check every protocol vector in tests/vectors/ the way the Python side does. They
need Node.js 20 or newer: a missing `node` is a failure, not a skip, so the suite
cannot pass without having run them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_js_library_passes_its_node_tests() -> None:
    node = shutil.which("node")
    assert node is not None, "Node.js 20 or newer is needed to test web/lib (node --test)"
    result = subprocess.run(
        [node, "--test", "web/tests/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "# fail 0" in result.stdout and "# pass 0" not in result.stdout
