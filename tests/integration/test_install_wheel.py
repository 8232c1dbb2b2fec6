"""The installed package, not the checkout: build a wheel, install it in a fresh venv.

The wheel must carry every module and every file the node serves (package
discovery, package data). Then, from an unrelated directory holding its own
network file on free ports, the installed `pasar up` runs the testnet, the
installed `pasar tx transfer --wait` (no --node, no --keys-dir: both default to
that directory's testnet) commits, and Ctrl-C - SIGINT to `pasar up`'s process
group, as a terminal sends it - stops every node and leaves no process.

To stay fast and offline-friendly the fresh venv has no pip of its own: the
test's pip installs the wheel into it without dependencies, and a .pth file lets
it import the already installed dependencies (aiohttp, pynacl, ...) from the test
venv. A .pth-listed directory's own .pth files are not processed, so the test
venv's editable install of the checkout is not visible in the fresh venv.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import free_base_port, http, wait_until

ROOT = Path(__file__).resolve().parents[2]
# Everything the node runs or serves (web/tests are the JavaScript library's own tests).
PACKAGES = ("ledger", "contracts", "consensus", "node", "cli", "web")
NOT_SHIPPED = ("web/tests/",)
DATA_SUFFIXES = (".json", ".js", ".mjs", ".html", ".css", ".txt", ".toml")
SKIP = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", ".pasar", "node_modules"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A wheel built from a copy of the source tree (the checkout stays untouched)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=SKIP)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = work.glob("pasar-*.whl")
    yield built


def shipped_source_files() -> set[str]:
    """Every module and servable data file of the packages, as wheel member names."""
    files: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            if not path.is_file() or "__pycache__" in path.parts or "node_modules" in path.parts:
                continue
            name = path.relative_to(ROOT).as_posix()
            if name.startswith(NOT_SHIPPED):
                continue
            if path.suffix == ".py" or path.suffix in DATA_SUFFIXES:
                files.add(name)
    return files


def test_wheel_ships_every_module_and_data_file(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        members = set(archive.namelist())
    missing = shipped_source_files() - members
    assert not missing, f"not in the wheel: {sorted(missing)}"
    assert "node/rpc/app.py" in members
    assert not [m for m in members if m.startswith(("tests/", "bench/", "docs/", "web/tests/"))]


def fresh_venv(wheel: Path, where: Path) -> Path:
    """A venv outside the checkout with the wheel installed; returns its bin directory."""
    venv = where / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
        + ["--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The dependencies come from the test venv (see the module docstring).
    Path(purelib, "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin"


NETWORK = """\
chain_id = "wheel-test"
data_dir = "state"
base_port = {base_port}
genesis_time_ms = 1767225600000

[[validators]]
name = "north"

[[validators]]
name = "south"

[[accounts]]
name = "issuer"
seed = "{issuer}"

[[accounts]]
name = "buyer"
seed = "{buyer}"

[[accounts]]
name = "seller"
seed = "{seller}"

[[assets]]
symbol = "TOK"
name = "Test token"
decimals = 0
issuer = "issuer"
cap = 1_000_000
policy = "open"

[[balances]]
account = "buyer"
asset = "TOK"
amount = 1_000
"""


def clean_environment(bin_dir: Path) -> dict[str, str]:
    """No trace of the checkout or the test venv: the installed package must stand alone."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PASAR_NODE", "PASAR_KEYS_DIR")
    }
    env["PATH"] = str(bin_dir) + os.pathsep + env.get("PATH", "")
    return env


def test_installed_wheel_runs_up_transfer_and_stops_on_ctrl_c(wheel: Path, tmp_path: Path) -> None:
    bin_dir = fresh_venv(wheel, tmp_path)
    env = clean_environment(bin_dir)
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import cli, node.rpc; print(cli.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert Path(where.strip()).is_relative_to(tmp_path / "venv"), where
    workdir = tmp_path / "shop"
    workdir.mkdir()
    base_port = free_base_port(4)
    (workdir / "network.toml").write_text(
        NETWORK.format(base_port=base_port, issuer="11" * 32, buyer="22" * 32, seller="33" * 32)
    )
    up = subprocess.Popen(
        [str(bin_dir / "pasar"), "up", "--network", "network.toml"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a shell job
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(iter(up.stdout.readline, "")),  # type: ignore[union-attr]
        daemon=True,
    )
    reader.start()

    def pasar(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(bin_dir / "pasar"), *args],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    child_pids: list[int] = []
    try:
        child_pids = wait_until(
            lambda: (
                [int(p) for p in re.findall(r"pid (\d+)", "".join(lines))][:2]
                if len(re.findall(r"pid (\d+)", "".join(lines))) >= 2
                else None
            ),
            30,
            "pasar up to start two nodes",
        )
        assert all(Path(f"/proc/{pid}/cwd").resolve().is_relative_to(workdir) for pid in child_pids)
        for port in (base_port, base_port + 2):
            wait_until(
                lambda port=port: http("GET", f"http://127.0.0.1:{port}/v1/status")[0] == 200,
                60,
                f"node on {port} to serve",
            )
        # no --node: the first validator of the testnet `pasar up` runs from here
        status = pasar("query", "status", "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["chain_id"] == "wheel-test"
        sent = pasar(
            "tx", "transfer", "--from", "buyer", "--to", "seller", "--asset", "TOK",
            "--amount", "7", "--wait", "--json",
        )  # fmt: skip
        assert sent.returncode == 0, sent.stdout + sent.stderr + "".join(lines[-20:])
        outcome: dict[str, Any] = json.loads(sent.stdout)
        assert outcome["status"] == "committed"

        def seller_on_south() -> Any:
            answer = pasar(
                "query", "account", "seller", "--json",
                "--node", f"http://127.0.0.1:{base_port + 2}",
            )  # fmt: skip
            account = json.loads(answer.stdout) if answer.returncode == 0 else None
            return account if account and account["height"] >= outcome["height"] else None

        assert wait_until(seller_on_south, 30, "the second node")["balances"] == {"TOK": 7}
    finally:
        os.killpg(up.pid, signal.SIGINT)
        try:
            code = up.wait(timeout=30)
        finally:
            if up.poll() is None:
                os.killpg(up.pid, signal.SIGKILL)
                up.wait()
        reader.join(timeout=5)
        print("".join(lines))  # pytest shows it when the test fails: the nodes' own log
    assert code == 0, "".join(lines[-30:])
    assert len(child_pids) == 2
    deadline = time.monotonic() + 5
    for pid in child_pids:
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.05)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
