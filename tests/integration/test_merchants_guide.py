"""docs/merchants.md as written: its shell blocks, the Python files it includes and its
configuration reference are all run, so the guide cannot drift from the code.

The guide's shell blocks run in order as one bash script (`set -euo pipefail`) in a
temporary directory holding a copy of network.toml and docs/examples/, with the
ports of the text (26600 for the first validator, 8080 for the shop) replaced by
free ones. That is the whole path: `pasar up` starts four validators, the shop
gets a scoped key, the relay runs, the example receiver listens, the example
creates an invoice, the buyer pays it with the CLI, and the receiver logs the
webhook it verified and the payment it proved offline. Every process the script
started is in its own session and stopped at the end. (The HTTP request shown
under "What your endpoint receives" is an illustration, not code.)
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from cli.webhooks.config import load_config
from cli.webhooks.signing import new_secret
from ledger.keys import PrivateKey, address_to_text
from tests.integration.harness import ROOT, free_base_port

GUIDE = ROOT / "docs" / "merchants.md"
FENCE = re.compile(
    r"(?:<!-- file: (?P<file>\S+) -->\n)?^```(?P<lang>\w*)\n(?P<body>.*?)^```$", re.S | re.M
)
LANGUAGES = {"sh", "python", "toml", "text"}


def blocks(lang: str) -> list[re.Match[str]]:
    return [m for m in FENCE.finditer(GUIDE.read_text()) if m["lang"] == lang]


def test_every_block_has_a_known_language_and_included_files_match() -> None:
    found = list(FENCE.finditer(GUIDE.read_text()))
    assert {m["lang"] for m in found} <= LANGUAGES, [m["lang"] for m in found]
    python = blocks("python")
    assert len(python) == 2
    for match in python:
        assert match["file"], "a Python block must be one of docs/examples/ (marked file:)"
        assert match["body"] == (ROOT / match["file"]).read_text(), match["file"]


def test_the_configuration_reference_loads(tmp_path: Path) -> None:
    (reference,) = blocks("toml")
    address = address_to_text(PrivateKey.from_seed(bytes(32)).public_key)
    path = tmp_path / "webhooks.toml"
    text = reference["body"].replace("whsec_...", new_secret()).replace("pasar1...", address)
    path.write_text(text)
    config = load_config(path)
    assert [endpoint.name for endpoint in config.endpoints] == ["shop"]
    assert config.retry.disable_after == 20 and config.start == "0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def stop_session(leader: subprocess.Popen[bytes]) -> None:
    """SIGTERM the script's session (`pasar up` stops its validators), then SIGKILL."""
    for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(leader.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                os.killpg(leader.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def test_the_guide_runs_from_nothing_to_a_verified_paid_webhook(tmp_path: Path) -> None:
    base_port, shop_port = free_base_port(8), free_port()
    network = (ROOT / "network.toml").read_text()
    assert "base_port = 26600" in network
    (tmp_path / "network.toml").write_text(
        network.replace("base_port = 26600", f"base_port = {base_port}")
    )
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "docs" / "examples")
    script = "\n".join(m["body"] for m in blocks("sh"))
    script = script.replace("26600", str(base_port)).replace("8080", str(shop_port))
    (tmp_path / "guide.sh").write_text("set -euo pipefail\n" + script)
    bin_dir = str(Path(sys.executable).parent)  # pasar and python of this environment
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", PYTHONPATH=str(ROOT))
    env["SHOP_PORT"] = str(shop_port)  # the receiver example's port (8080 in the text)
    for name in ("PASAR_NODE", "PASAR_KEYS_DIR", "PASAR_PASSPHRASE", "MERCHANT"):
        env.pop(name, None)
    leader = subprocess.Popen(
        ["bash", "guide.sh"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = leader.communicate(timeout=240)
    except subprocess.TimeoutExpired as exc:
        output = exc.output or b""
    finally:
        stop_session(leader)
    text = output.decode(errors="replace")
    logs = {
        name: (tmp_path / name).read_text(errors="replace")[-2000:]
        for name in ("pasar-up.log", "relay.log", "receiver.log")
        if (tmp_path / name).exists()
    }
    assert leader.returncode == 0, f"{text[-4000:]}\n{logs}"
    invoice_id, checkout = (tmp_path / "invoice.txt").read_text().split()
    assert re.fullmatch(r"[0-9a-f]{64}", invoice_id)
    assert checkout.startswith(f"http://127.0.0.1:{base_port}/pay/{invoice_id}?return=")
    received = (tmp_path / "receiver.log").read_text()
    assert f"invoice {invoice_id} paid and proven: 150000 IDRA from pasar1" in received
