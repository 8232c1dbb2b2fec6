"""Where a node puts its RPC socket (node/front_process.py): its home's `run/`, or,
when that path is too long for a Unix socket, a private temporary directory named
in the home, so the next start removes the one a killed node left behind."""

from __future__ import annotations

import stat
import tempfile
from pathlib import Path

from node.front_process import (
    MAX_SOCKET_PATH,
    RUN_DIR_POINTER,
    front_run_dir,
    remove_temporary_run_dir,
    rpc_socket_path,
)


def test_a_short_home_keeps_its_socket_in_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    run_dir = front_run_dir(home)
    assert run_dir == home.resolve() / "run"
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    assert rpc_socket_path(home) == run_dir / "rpc.sock"
    assert not (home / RUN_DIR_POINTER).exists()


def test_a_deep_home_uses_a_temporary_directory_the_next_start_removes(tmp_path: Path) -> None:
    home = tmp_path / ("d" * MAX_SOCKET_PATH) / "home"
    home.mkdir(parents=True)
    killed = front_run_dir(home)  # a node that was then killed: nothing removed it
    assert killed.parent == Path(tempfile.gettempdir()) and killed.is_dir()
    assert rpc_socket_path(home) == killed / "rpc.sock"
    again = front_run_dir(home)
    try:
        assert not killed.exists() and again.is_dir() and again != killed
        assert rpc_socket_path(home) == again / "rpc.sock"
    finally:
        remove_temporary_run_dir(home / RUN_DIR_POINTER)  # as a node's stop does
    assert not again.exists() and not (home / RUN_DIR_POINTER).exists()


def test_the_pointer_removes_only_a_directory_the_node_could_have_made(tmp_path: Path) -> None:
    home = tmp_path / "home"
    precious = tmp_path / "pasar-rpc-precious"  # the prefix, but not in the temp dir
    for directory in (home, precious):
        directory.mkdir()
    (home / RUN_DIR_POINTER).write_text(f"{precious}\n")
    remove_temporary_run_dir(home / RUN_DIR_POINTER)
    assert precious.is_dir() and not (home / RUN_DIR_POINTER).exists()
